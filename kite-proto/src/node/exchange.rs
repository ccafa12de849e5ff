//! The Scuttlebutt exchange over datagrams: the gossip round, digests,
//! deltas, and the stream push for state that does not fit a datagram.

use core::net::SocketAddr;
use std::collections::BTreeSet;

use super::Node;
use super::streams::Pending;
use crate::event::NodeStatus;
use crate::id::NodeId;
use crate::rng;
use crate::time::Timestamp;
use crate::wire::size::{MAX_COUNT_LEN, digest_entry_len, id_len, node_header_len};
use crate::wire::{Delta, Digest, DigestEntry, HEADER_LEN, Message, NodeDelta};

/// For how many gossip rounds a node whose state changed here is listed
/// early in our digests, so news spreads although digests are truncated.
const NEWS_ROUNDS: u32 = 10;

/// Most state pushes in flight at once.
pub(super) const MAX_PUSHES: usize = 4;

/// One node the receiver lacks something of.
struct Candidate {
    id: NodeId,
    from: u64,
    /// The receiver does not know the node at all.
    new: bool,
    gap: u64,
}

impl Node {
    /// One gossip round: detect failures, bump our heartbeat, and send a
    /// digest to a random live peer (or `gossip_fanout` of them), a random
    /// down peer, and every seed we have not heard from.
    pub(super) fn round(&mut self, now: Timestamp) {
        self.check_liveness(now);
        if self.local.is_left() {
            return;
        }
        self.heartbeat += 1;
        for to in self.round_targets() {
            let digest = self.news_digest(now, self.datagram_room() - 1 - MAX_COUNT_LEN, &[]);
            let msg = Message::DigestRequest {
                from: self.id.clone(),
                digest,
            };
            self.transmit(to, &msg);
        }
    }

    fn round_targets(&mut self) -> Vec<SocketAddr> {
        let mut alive = Vec::new();
        let mut down = Vec::new();
        for peer in self.peers.values() {
            match peer.status {
                NodeStatus::Alive => alive.push(peer.addr),
                NodeStatus::Down => down.push(peer.addr),
                NodeStatus::Left => {}
            }
        }
        let mut targets = rng::sample(&mut *self.rng, &alive, self.config.gossip_fanout);
        targets.extend(rng::sample(&mut *self.rng, &down, 1));
        let heard: BTreeSet<SocketAddr> = alive.into_iter().collect();
        let me = self.config.advertise_addr;
        for seed in self.seed_addrs() {
            if seed != me && !heard.contains(&seed) && !targets.contains(&seed) {
                targets.push(seed);
            }
        }
        targets
    }

    /// Every address given to `join`, and every address joined names last
    /// resolved to.
    fn seed_addrs(&self) -> BTreeSet<SocketAddr> {
        let named = self
            .names
            .values()
            .flat_map(|watch| watch.addrs.iter().copied());
        self.seeds.iter().copied().chain(named).collect()
    }

    /// Bytes of a datagram left after the header and our id.
    fn datagram_room(&self) -> usize {
        self.config.max_packet_size - HEADER_LEN - id_len(&self.id)
    }

    pub(super) fn on_datagram(&mut self, now: Timestamp, from: SocketAddr, msg: Message) {
        match msg {
            Message::DigestRequest { digest, .. } => {
                self.observe_digest(now, &digest);
                let room = self.datagram_room() - 2 * MAX_COUNT_LEN - 1;
                let reserve = self.digest_len(room / 2);
                let (delta, used, complete) = self.delta_for(&digest, room - reserve);
                // Name first what we lack of what the requester listed, so
                // its closing delta brings it (DESIGN §3).
                let lacking: Vec<NodeId> = digest
                    .entries
                    .iter()
                    .filter(|e| {
                        self.peers
                            .get(&e.id)
                            .is_some_and(|p| p.state.version() < e.version)
                    })
                    .map(|e| e.id.clone())
                    .collect();
                let digest_out = self.news_digest(now, room - used, &lacking);
                let msg = Message::DigestResponse {
                    from: self.id.clone(),
                    delta,
                    digest: digest_out,
                };
                self.transmit(from, &msg);
                if !complete {
                    self.push(from, &digest);
                }
            }
            Message::DigestResponse { delta, digest, .. } => {
                self.apply_delta(now, delta);
                self.observe_digest(now, &digest);
                let (delta, _, complete) =
                    self.delta_for(&digest, self.datagram_room() - MAX_COUNT_LEN);
                if !delta.nodes.is_empty() {
                    let msg = Message::Delta {
                        from: self.id.clone(),
                        delta,
                    };
                    self.transmit(from, &msg);
                }
                if !complete {
                    self.push(from, &digest);
                }
            }
            Message::Delta { delta, .. } => self.apply_delta(now, delta),
            _ => self.stats.ignored_messages += 1,
        }
    }

    /// Sends over a stream what the owner of `digest` lacks, when it did not
    /// all fit a datagram (a large value, a node far behind). One push per
    /// peer and a few in all at a time.
    fn push(&mut self, to: SocketAddr, digest: &Digest) {
        if self.pushes.contains(&to) || self.pushes.len() >= MAX_PUSHES {
            return;
        }
        let (delta, _, _) = self.delta_for(digest, self.frame_room() - MAX_COUNT_LEN);
        let msg = Message::Push {
            from: self.id.clone(),
            delta,
        };
        self.pushes.insert(to);
        self.request(to, &msg, Pending::Push { to });
    }

    /// Bytes of a stream frame left after the header and our id.
    pub(super) fn frame_room(&self) -> usize {
        self.config.limits.max_frame_len - HEADER_LEN - id_len(&self.id)
    }

    /// Encoded length of our whole digest's entries, counted up to `cap`.
    fn digest_len(&self, cap: usize) -> usize {
        let mut total = 0;
        for entry in self.digest_entries() {
            total += digest_entry_len(&entry);
            if total >= cap {
                return cap;
            }
        }
        total
    }

    /// Our entry, then the ids we want, then every known node.
    fn digest_entries(&self) -> impl Iterator<Item = DigestEntry> + '_ {
        // Down peers are left out: advertising them would make nodes that
        // lack them ask for them and admit them afresh, restarting their
        // detection and expiry (the resurrection of DESIGN §8).
        let known = self
            .peers
            .iter()
            .filter(|(_, peer)| peer.status != NodeStatus::Down)
            .map(|(id, peer)| DigestEntry {
                id: id.clone(),
                heartbeat: peer.heartbeat,
                version: peer.state.version(),
            });
        self.leading_entries().chain(known)
    }

    /// Our own entry and the ids whose state we want.
    fn leading_entries(&self) -> impl Iterator<Item = DigestEntry> + '_ {
        let me = DigestEntry {
            id: self.id.clone(),
            heartbeat: self.heartbeat,
            version: self.local.version(),
        };
        let wanted = self.wanted.keys().map(|id| DigestEntry {
            id: id.clone(),
            heartbeat: 0,
            version: 0,
        });
        core::iter::once(me).chain(wanted)
    }

    /// A digest of at most `room` bytes of entries (plus flag and count):
    /// ours and the wanted ids first, then known nodes in random order until
    /// the room is full, so truncation favours no node round after round.
    pub(super) fn digest(&mut self, room: usize) -> Digest {
        self.digest_naming(room, &[], None)
    }

    /// A datagram digest: like [`Node::digest`], but the known nodes listed
    /// first are those in `lacking` (state we lack and want sent back),
    /// then those whose state changed here in the last rounds, newest first,
    /// so a truncated digest still offers the news.
    fn news_digest(&mut self, now: Timestamp, room: usize, lacking: &[NodeId]) -> Digest {
        let recent = now - self.config.gossip_interval * NEWS_ROUNDS;
        self.digest_naming(room, lacking, Some(recent))
    }

    /// The digest: leading entries, then `first`, then nodes changed after
    /// `recent` (newest first), then the rest in random order.
    fn digest_naming(
        &mut self,
        room: usize,
        first: &[NodeId],
        recent: Option<Timestamp>,
    ) -> Digest {
        if self.local.is_left() {
            // No longer a member: its views of others are frozen and stale,
            // so it names only itself (askers then learn that it left).
            let entries = self.leading_entries().take(1).collect();
            return Digest {
                complete: false,
                entries,
            };
        }
        let mut used = 0;
        let mut entries = Vec::new();
        let mut complete = true;
        for entry in self.leading_entries() {
            let len = digest_entry_len(&entry);
            if used + len <= room {
                used += len;
                entries.push(entry);
            } else {
                complete = false;
            }
        }
        // Down peers are left out, as in `digest_entries`.
        let mut peers: Vec<_> = self
            .peers
            .iter()
            .filter(|(_, peer)| peer.status != NodeStatus::Down)
            .collect();
        let mut front = 0;
        if !first.is_empty() {
            let first: BTreeSet<&NodeId> = first.iter().collect();
            for i in 0..peers.len() {
                if first.contains(peers[i].0) {
                    peers.swap(front, i);
                    front += 1;
                }
            }
        }
        if let Some(recent) = recent {
            let news = front;
            for i in news..peers.len() {
                if peers[i].1.changed > recent {
                    peers.swap(front, i);
                    front += 1;
                }
            }
            peers[news..front].sort_by_key(|(_, peer)| core::cmp::Reverse(peer.changed));
        }
        for i in 0..peers.len() {
            if i >= front {
                // A partial Fisher-Yates shuffle: only the listed nodes are drawn.
                let j = i + rng::index(&mut *self.rng, peers.len() - i);
                peers.swap(i, j);
            }
            let (id, peer) = peers[i];
            let entry = DigestEntry {
                id: id.clone(),
                heartbeat: peer.heartbeat,
                version: peer.state.version(),
            };
            let len = digest_entry_len(&entry);
            if used + len > room {
                complete = false;
                break;
            }
            used += len;
            entries.push(entry);
        }
        Digest { complete, entries }
    }

    /// What the owner of `digest` lacks, within `room` bytes: new and most
    /// out-of-date nodes first (ties in random order), each node's updates
    /// in version order so a truncated node is still a valid prefix.
    /// Returns the delta, the bytes it uses beyond its count, and whether
    /// everything the receiver lacks is in it.
    pub(super) fn delta_for(&mut self, digest: &Digest, room: usize) -> (Delta, usize, bool) {
        let mut candidates = self.candidates(digest);
        rng::shuffle(&mut *self.rng, &mut candidates);
        candidates.sort_by_key(|c| core::cmp::Reverse((c.new, c.gap)));
        let mut nodes = Vec::new();
        let mut used = 0;
        let mut complete = true;
        for candidate in candidates {
            if candidate.id != self.id && self.local.is_left() {
                // A left node spreads only its own (left) state, never its
                // stale views of others.
                continue;
            }
            let (addr, heartbeat, state) = if candidate.id == self.id {
                (self.config.advertise_addr, self.heartbeat, &self.local)
            } else {
                match self.peers.get(&candidate.id) {
                    // Introduce to a node that lacks it only a node that
                    // left (so the receiver learns it) or one we have fresh
                    // evidence for, never a down or stale one.
                    Some(peer) if candidate.new && !introducible(peer) => continue,
                    Some(peer) => (peer.addr, peer.heartbeat, &peer.state),
                    None => continue,
                }
            };
            let header = node_header_len(&candidate.id, &addr, heartbeat, candidate.from);
            if used + header > room {
                complete = false;
                continue;
            }
            let mut size = header;
            let mut updates = Vec::new();
            for (version, update) in state.updates_since(candidate.from) {
                let len = update.wire_len(version);
                if used + size + len > room {
                    complete = false;
                    break;
                }
                size += len;
                updates.push(update.to_update(version));
            }
            if updates.is_empty() && !candidate.new {
                continue;
            }
            used += size;
            nodes.push(NodeDelta {
                id: candidate.id,
                addr,
                heartbeat,
                from_version: candidate.from,
                updates,
            });
        }
        (Delta { nodes }, used, complete)
    }

    fn candidates(&self, digest: &Digest) -> Vec<Candidate> {
        let mut out = Vec::new();
        let mut mentioned = BTreeSet::new();
        for entry in &digest.entries {
            // A node listed twice is answered once: duplicates would only
            // repeat the same updates, inflating the reply.
            if !mentioned.insert(&entry.id) {
                continue;
            }
            let ours = if entry.id == self.id {
                Some(self.local.version())
            } else {
                self.peers.get(&entry.id).map(|peer| peer.state.version())
            };
            let Some(ours) = ours else {
                continue;
            };
            let new = entry.heartbeat == 0;
            let from = if new { 0 } else { entry.version };
            if new || ours > from {
                out.push(Candidate {
                    id: entry.id.clone(),
                    from,
                    new,
                    gap: ours.saturating_sub(from),
                });
            }
        }
        if digest.complete {
            let unmentioned = core::iter::once((&self.id, self.local.version()))
                .chain(
                    self.peers
                        .iter()
                        .map(|(id, peer)| (id, peer.state.version())),
                )
                .filter(|(id, _)| !mentioned.contains(id));
            for (id, version) in unmentioned {
                out.push(Candidate {
                    id: id.clone(),
                    from: 0,
                    new: true,
                    gap: version,
                });
            }
        }
        out
    }
}

/// Whether `peer` may be sent to a node that does not know it.
fn introducible(peer: &super::membership::Peer) -> bool {
    match peer.status {
        NodeStatus::Alive => peer.fresh,
        NodeStatus::Down => false,
        NodeStatus::Left => true,
    }
}
