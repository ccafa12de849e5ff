//! The Scuttlebutt exchange over datagrams: the gossip round, answering
//! digests (built in `digest.rs`) with deltas, and the stream push for state
//! that does not fit a datagram.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::BTreeSet;

use super::Node;
use super::digest::Listing;
use super::peers::{Peer, PeerInfo, Slot, Whom};
use super::streams::Pending;
use crate::event::NodeStatus;
use crate::id::NodeId;
use crate::rng;
use crate::time::Timestamp;
use crate::wire::size::{MAX_COUNT_LEN, id_len, node_header_len};
use crate::wire::{Delta, Digest, HEADER_LEN, Message, NodeDelta, run_tag};

/// How many gossip rounds a seed at which no alive peer was found waits
/// before the table is searched for one again (it is probed meanwhile).
const SEED_LOOKUP_ROUNDS: u32 = 10;

/// What `round_targets` last found at a seed address.
#[derive(Debug)]
pub(super) enum SeedPeer {
    /// This peer lives there.
    Found(NodeId),
    /// No alive peer did, until this time at least.
    Missing { until: Timestamp },
}

/// Most state pushes in flight at once.
pub(super) const MAX_PUSHES: usize = 4;

/// Which live nodes a delta introduces to a receiver that lacks them.
#[derive(Clone, Copy)]
pub(super) enum Introduce {
    /// Those we heard from, or of, since we admitted them: stale state of a
    /// dead node must not hop from newcomer to newcomer (DESIGN §8).
    Fresh,
    /// Also those admitted no more than `grace` before `now`: a joiner is
    /// told every node we hold alive, even one we learned only just now
    /// through our own join (see [`Node::join`]).
    AdmittedWithin { grace: Duration, now: Timestamp },
}

/// One node the receiver lacks something of.
struct Candidate {
    whom: Whom,
    from: u64,
    /// The receiver does not know the node at all.
    new: bool,
    /// The receiver holds another run of the node: it gets ours whole,
    /// even if empty, and keeps whichever run is later.
    other_run: bool,
    gap: u64,
}

impl Node {
    /// One gossip round: detect failures, bump our heartbeat, send a digest
    /// to a random live peer (or `gossip_fanout` of them), and probe a random
    /// down peer and every seed we have not heard from.
    pub(super) fn round(&mut self, now: Timestamp) {
        self.check_liveness(now);
        if self.local.is_left() {
            return;
        }
        self.heartbeat = self.heartbeat.saturating_add(1);
        let room = self.datagram_room() - 1 - MAX_COUNT_LEN;
        let (live, probed) = self.round_targets(now);
        let mut truncated = false;
        for to in live {
            let digest = self.news_digest(now, room, Listing::default());
            truncated |= !digest.complete;
            let msg = Message::DigestRequest {
                from: self.id.clone(),
                digest,
            };
            self.transmit(to, &msg);
        }
        self.count_sync_round(truncated);
        if !probed.is_empty() {
            // A down peer or an unanswered seed is most likely dead: it gets
            // only our own entry (and the ids we want), enough for a live
            // one to know us again and answer with its whole digest.
            let msg = Message::DigestRequest {
                from: self.id.clone(),
                digest: self.probe_digest(room),
            };
            for to in probed {
                self.transmit(to, &msg);
            }
        }
        self.check_watched(now);
        self.send_heartbeats();
    }

    /// This round's targets: `gossip_fanout` random live peers, and the
    /// addresses to probe: a random down peer and every seed we do not hear
    /// from.
    fn round_targets(&mut self, now: Timestamp) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        let live_slots = self
            .peers
            .sample_alive(&mut *self.rng, self.config.gossip_fanout);
        let down_slot = self.peers.sample_down(&mut *self.rng);
        let addr = |slot: usize| self.peers.addr(slot);
        let live: Vec<SocketAddr> = live_slots.into_iter().map(addr).collect();
        let mut probed: Vec<SocketAddr> = down_slot.into_iter().map(addr).collect();
        for seed in self.seed_addrs() {
            if seed != self.config.advertise_addr
                && !live.contains(&seed)
                && !probed.contains(&seed)
                && !self.hears_from_seed(now, seed)
            {
                probed.push(seed);
            }
        }
        (live, probed)
    }

    /// Whether an alive peer lives at `seed` (then it is not probed).
    /// Remembers the peer found there, and looks for one again (a scan of
    /// the table) at most every [`SEED_LOOKUP_ROUNDS`] rounds while none is.
    fn hears_from_seed(&mut self, now: Timestamp, seed: SocketAddr) -> bool {
        let alive_at = |slot: Slot| {
            self.peers.addr(slot) == seed && self.peers.at(slot).1.status == NodeStatus::Alive
        };
        match self.seed_peers.get(&seed) {
            Some(SeedPeer::Found(id)) if self.peers.slot(id).is_some_and(alive_at) => {
                return true;
            }
            Some(SeedPeer::Missing { until }) if now < *until => return false,
            _ => {}
        }
        let found = (0..self.peers.len())
            .find(|&slot| alive_at(slot))
            .map(|slot| self.peers.at(slot).0.clone());
        let heard = found.is_some();
        let entry = match found {
            Some(id) => SeedPeer::Found(id),
            None => SeedPeer::Missing {
                until: now + self.config.gossip_interval * SEED_LOOKUP_ROUNDS,
            },
        };
        self.seed_peers.insert(seed, entry);
        heard
    }

    /// Every address given to a join that succeeded, and every address the
    /// names of such joins last resolved to.
    fn seed_addrs(&self) -> BTreeSet<SocketAddr> {
        let me = self.config.advertise_addr;
        let named = self.names.values().flat_map(|watch| watch.seeds(me));
        self.seeds.iter().copied().chain(named).collect()
    }

    /// Bytes of a datagram left after the envelope, the header and our id.
    pub(super) fn datagram_room(&self) -> usize {
        self.config.max_packet_size - self.envelope_overhead() - HEADER_LEN - id_len(&self.id)
    }

    pub(super) fn on_datagram(&mut self, now: Timestamp, from: SocketAddr, msg: Message) {
        self.outdated.clear();
        match msg {
            Message::DigestRequest { digest, .. } => {
                let whom = self.observe_digest(now, &digest);
                let room = self.datagram_room() - 2 * MAX_COUNT_LEN - 1;
                // What the requester listed tells which of our entries are
                // worth its while: those it lacks (listed first, so its
                // closing delta brings them, DESIGN §3), and not those it
                // knows as well as we do (left out, saving room for the rest).
                let mut lacking = Vec::new();
                let mut known = vec![false; self.peers.len()];
                for (entry, whom) in digest.entries.iter().zip(&whom) {
                    if let Whom::Peer(slot) = *whom {
                        let peer = self.peers.at(slot).1;
                        if run_tag(peer.generation) != entry.run {
                            // Another run: the two sides swap it whole, and
                            // whoever holds the earlier one replaces it.
                        } else if peer.state.version() < entry.version {
                            lacking.push(slot);
                        } else {
                            // Observing the digest raised our heartbeat to
                            // at least the requester's.
                            known[slot] = entry.heartbeat == peer.heartbeat
                                && entry.version == peer.state.version();
                        }
                    }
                }
                let listing = Listing {
                    first: &lacking,
                    known: &known,
                };
                let reserve = self.digest_len(room / 2, &known);
                let (delta, used, complete) =
                    self.delta_for(&digest, &whom, room - reserve, Introduce::Fresh);
                let digest_out = self.news_digest(now, room - used, listing);
                let msg = Message::DigestResponse {
                    from: self.id.clone(),
                    delta,
                    digest: digest_out,
                };
                self.transmit(from, &msg);
                if !complete {
                    self.push(from, &digest, &whom);
                }
            }
            Message::DigestResponse { delta, digest, .. } => {
                self.apply_delta(now, delta);
                let whom = self.observe_digest(now, &digest);
                let room = self.datagram_room() - MAX_COUNT_LEN;
                let (delta, _, complete) = self.delta_for(&digest, &whom, room, Introduce::Fresh);
                self.send_delta(from, delta);
                if !complete {
                    self.push(from, &digest, &whom);
                }
            }
            Message::Delta { delta, .. } => self.apply_delta(now, delta),
            liveness @ Message::Liveness { .. } => self.on_liveness(now, liveness),
            _ => self.stats.ignored_messages += 1,
        }
        self.answer_outdated(from);
    }

    /// Sends `to` our runs of the nodes it just sent an earlier run of, whole:
    /// when the two runs' tags collide, the digest exchange cannot tell that
    /// it holds an earlier run, and would never send it ours.
    fn answer_outdated(&mut self, to: SocketAddr) {
        let mut ids = core::mem::take(&mut self.outdated);
        // A delta may name a node twice; ours is sent once.
        ids.sort();
        ids.dedup();
        let candidates: Vec<Candidate> = ids
            .iter()
            .filter_map(|id| self.peers.slot(id))
            .map(|slot| Candidate {
                whom: Whom::Peer(slot),
                from: 0,
                new: false,
                other_run: true,
                gap: self.peers.at(slot).1.state.version(),
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        let room = self.datagram_room() - MAX_COUNT_LEN;
        let (delta, _, _) = self.fill(candidates, room, Introduce::Fresh);
        self.send_delta(to, delta);
    }

    /// Sends `delta` to `to` as a datagram, unless it is empty.
    fn send_delta(&mut self, to: SocketAddr, delta: Delta) {
        if !delta.nodes.is_empty() {
            let msg = Message::Delta {
                from: self.id.clone(),
                delta,
            };
            self.transmit(to, &msg);
        }
    }

    /// Sends over a stream what the owner of `digest` lacks, when it did not
    /// all fit a datagram (a large value, a node far behind). One push per
    /// peer and a few in all at a time.
    fn push(&mut self, to: SocketAddr, digest: &Digest, whom: &[Whom]) {
        if self.pushes.contains(&to) || self.pushes.len() >= MAX_PUSHES {
            return;
        }
        let room = self.frame_room() - MAX_COUNT_LEN;
        let (delta, _, _) = self.delta_for(digest, whom, room, Introduce::Fresh);
        let msg = Message::Push {
            from: self.id.clone(),
            delta,
        };
        self.pushes.insert(to);
        self.request(to, &msg, Pending::Push { to });
    }

    /// Bytes of a stream frame left after the envelope, the header and our id.
    pub(super) fn frame_room(&self) -> usize {
        self.config.limits.max_frame_len - self.envelope_overhead() - HEADER_LEN - id_len(&self.id)
    }

    /// What the owner of `digest` lacks, within `room` bytes: new and most
    /// out-of-date nodes first (ties in random order), each node's updates
    /// in version order so a truncated node is still a valid prefix.
    /// Live nodes the receiver does not know are introduced as `introduce`
    /// says. Returns the delta, the bytes it uses beyond its count, and
    /// whether everything the receiver lacks is in it.
    pub(super) fn delta_for(
        &mut self,
        digest: &Digest,
        whom: &[Whom],
        room: usize,
        introduce: Introduce,
    ) -> (Delta, usize, bool) {
        let candidates = self.candidates(digest, whom);
        self.fill(candidates, room, introduce)
    }

    /// The delta of `candidates` within `room` bytes, as [`Node::delta_for`]
    /// describes it.
    fn fill(
        &mut self,
        mut candidates: Vec<Candidate>,
        room: usize,
        introduce: Introduce,
    ) -> (Delta, usize, bool) {
        rng::shuffle(&mut *self.rng, &mut candidates);
        candidates.sort_by_key(|c| core::cmp::Reverse((c.new, c.gap)));
        let left = self.local.is_left();
        let mut nodes = Vec::new();
        let mut used = 0;
        let mut complete = true;
        for candidate in candidates {
            let (id, generation, addr, heartbeat, state) = match candidate.whom {
                Whom::Local => (
                    &self.id,
                    self.config.generation,
                    self.config.advertise_addr,
                    self.heartbeat,
                    &self.local,
                ),
                // A left node spreads only its own (left) state, never its
                // stale views of others.
                Whom::Peer(_) | Whom::Unknown if left => continue,
                Whom::Peer(slot) => match self.peers.at(slot) {
                    // Introduce to a node that lacks it only a node that
                    // left (so the receiver learns it) or a live one
                    // `introduce` allows, never a down or stale one.
                    (_, peer)
                        if candidate.new
                            && !introducible(peer, self.peers.info(slot), introduce) =>
                    {
                        continue;
                    }
                    (id, peer) => (
                        id,
                        peer.generation,
                        self.peers.addr(slot),
                        peer.heartbeat,
                        &peer.state,
                    ),
                },
                Whom::Unknown => continue,
            };
            let header = node_header_len(id, generation, &addr, heartbeat, candidate.from);
            if used + header > room {
                complete = false;
                continue;
            }
            let mut size = header;
            let mut updates = Vec::new();
            let mut truncated = false;
            for (version, update) in state.updates_since(candidate.from) {
                let len = update.wire_len(version);
                if used + size + len > room {
                    complete = false;
                    truncated = true;
                    break;
                }
                size += len;
                updates.push(update.to_update(version));
            }
            if updates.is_empty() && !candidate.new && !candidate.other_run {
                continue;
            }
            // A node that left is introduced whole or not at all: a prefix
            // without its left marker would make the receiver report it
            // joined (and, long after it expired it, joined again).
            if truncated && (candidate.new || candidate.other_run) && state.is_left() {
                continue;
            }
            used += size;
            nodes.push(NodeDelta {
                id: id.clone(),
                generation,
                addr,
                heartbeat,
                from_version: candidate.from,
                updates,
            });
        }
        (Delta { nodes }, used, complete)
    }

    /// The nodes the owner of `digest` lacks something of, each once.
    fn candidates(&self, digest: &Digest, whom: &[Whom]) -> Vec<Candidate> {
        let mut out = Vec::new();
        // One mark per peer slot, and the last for the local node.
        let local = self.peers.len();
        let mut mentioned = vec![false; local + 1];
        for (entry, &named) in digest.entries.iter().zip(whom) {
            let (mark, ours, generation) = match named {
                Whom::Local => (local, self.local.version(), self.config.generation),
                Whom::Peer(slot) => {
                    let peer = self.peers.at(slot).1;
                    (slot, peer.state.version(), peer.generation)
                }
                Whom::Unknown => continue,
            };
            // A node listed twice is answered once: duplicates would only
            // repeat the same updates, inflating the reply.
            if mentioned[mark] {
                continue;
            }
            mentioned[mark] = true;
            let new = entry.heartbeat == 0;
            // A tag cannot tell which run is later: the holder of another
            // run gets all of ours and keeps the later one.
            let other_run = !new && entry.run != run_tag(generation);
            let from = if new || other_run { 0 } else { entry.version };
            if new || other_run || ours > from {
                out.push(Candidate {
                    whom: named,
                    from,
                    new,
                    other_run,
                    gap: ours.saturating_sub(from),
                });
            }
        }
        if digest.complete {
            let versions = (0..local)
                .map(|slot| (Whom::Peer(slot), self.peers.at(slot).1.state.version()))
                .chain(core::iter::once((Whom::Local, self.local.version())));
            for ((named, version), _) in versions.zip(&mentioned).filter(|(_, seen)| !**seen) {
                out.push(Candidate {
                    whom: named,
                    from: 0,
                    new: true,
                    other_run: false,
                    gap: version,
                });
            }
        }
        out
    }
}

/// Whether `peer` may be sent to a node that does not know it.
fn introducible(peer: &Peer, info: &PeerInfo, introduce: Introduce) -> bool {
    match peer.status {
        // A live peer that is not fresh has been alive since it was
        // admitted: `since` is when.
        NodeStatus::Alive => match introduce {
            Introduce::Fresh => peer.fresh,
            Introduce::AdmittedWithin { grace, now } => peer.fresh || info.since.age(now) <= grace,
        },
        NodeStatus::Down => false,
        NodeStatus::Left => true,
    }
}
