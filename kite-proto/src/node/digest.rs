//! Digests: what a node tells a peer it knows, one (id, heartbeat, version)
//! entry per node, ordered so that a truncated digest still carries what
//! matters most.

use std::collections::VecDeque;

use super::Node;
use super::peers::{Peer, Peers, Slot};
use crate::event::NodeStatus;
use crate::rng;
use crate::time::{Millis, Timestamp};
use crate::wire::size::digest_entry_len;
use crate::wire::{Digest, DigestEntry, run_tag};

/// For how many gossip rounds a node whose state changed here is listed
/// early in our digests, so news spreads although digests are truncated.
const NEWS_ROUNDS: u32 = 10;

/// A typical digest entry's length, for sharing a digest's room.
const FRESH_ENTRY_LEN: usize = 14;

/// Up to this many listable peers, or if they may all fit, a digest orders
/// them all (news first, then the freshest evidence, then at random);
/// otherwise it draws them (see [`Recent`]), so a datagram digest's cost
/// follows the packet size, not the cluster.
const ORDER_ALL_MAX: usize = 512;

/// The shortest a digest entry encodes to (a one-byte id, one-byte
/// varints): more listable peers than this allows cannot all fit.
const SHORTEST_ENTRY_LEN: usize = 5;

/// Peers drawn at a time for a large cluster's digest (see
/// [`Node::drawn_digest`]).
const DRAW_BATCH: usize = 16;

/// Entries kept by each list of [`Recent`]: more than a datagram lists.
const RECENT_LEN: usize = 256;

/// What a digest lists early as news: peers whose state changed here after
/// `since`, as seen at `now`.
#[derive(Clone, Copy)]
struct News {
    now: Timestamp,
    since: Timestamp,
}

/// The peers whose state changed here, and those whose heartbeat advanced,
/// most recently (newest last): what a large cluster's digest lists first,
/// found without scanning the table. An entry is a slot and a mark, and
/// counts only while the peer in that slot still has that mark: the time
/// of the change for `changed` (the peer keeps it to the millisecond), the
/// heartbeat for `heard`, which lies in the peer's cache line with what its
/// digest entry reads, so checking a fresh peer and listing it read one
/// line. A later change voids an entry (one in the same millisecond does
/// not, and the peer is listed once all the same); so does a removal that
/// moved another peer into the slot, unless that peer has the same
/// heartbeat or change time, which only lists it early once.
#[derive(Debug, Default)]
pub(super) struct Recent {
    changed: VecDeque<(Slot, u64)>,
    heard: VecDeque<(Slot, u64)>,
    /// One bit per slot: listed in the digest being built (cleared after).
    listed: Vec<u64>,
}

impl Recent {
    /// The state of the peer in `slot` advanced at `now`.
    pub(super) fn changed(&mut self, slot: Slot, now: Timestamp) {
        push_bounded(&mut self.changed, (slot, now.as_micros()));
    }

    /// The peer in `slot` reached `heartbeat`, a newer one than it had.
    pub(super) fn heard(&mut self, slot: Slot, heartbeat: u64) {
        push_bounded(&mut self.heard, (slot, heartbeat));
    }

    /// Marks `slot` listed; false if it already was.
    fn list(&mut self, slot: Slot) -> bool {
        let (word, bit) = (slot / 64, 1u64 << (slot % 64));
        if self.listed.len() <= word {
            self.listed.resize(word + 1, 0);
        }
        let fresh = self.listed[word] & bit == 0;
        self.listed[word] |= bit;
        fresh
    }

    fn unlist(&mut self, slot: Slot) {
        if let Some(word) = self.listed.get_mut(slot / 64) {
            *word &= !(1u64 << (slot % 64));
        }
    }
}

/// The entries of a [`Recent`] list, newest first, whose peer still has
/// the recorded mark (`has_mark`).
fn newest<'a>(
    list: &'a VecDeque<(Slot, u64)>,
    peers: &'a Peers,
    has_mark: fn(&Peers, Slot, u64) -> bool,
) -> impl Iterator<Item = (Slot, u64)> + 'a {
    list.iter()
        .rev()
        .copied()
        .filter(move |&(slot, mark)| slot < peers.len() && has_mark(peers, slot, mark))
}

fn push_bounded(list: &mut VecDeque<(Slot, u64)>, entry: (Slot, u64)) {
    if list.len() == RECENT_LEN {
        list.pop_front();
    }
    list.push_back(entry);
}

/// How a digest orders and filters the peers it lists.
#[derive(Default)]
pub(super) struct Listing<'a> {
    /// Listed first: state we lack and want sent back.
    pub(super) first: &'a [Slot],
    /// Left out (by slot): the receiver knows as much of them as we do.
    pub(super) known: &'a [bool],
}

impl Node {
    /// Encoded length of our whole digest's entries (but those in `known`),
    /// counted up to `cap`.
    pub(super) fn digest_len(&self, cap: usize, known: &[bool]) -> usize {
        let mut total = 0;
        for entry in self.leading_entries() {
            if total >= cap {
                return cap;
            }
            total += digest_entry_len(&entry);
        }
        for (slot, (id, peer)) in self.peers.iter().enumerate() {
            if total >= cap {
                return cap;
            }
            if listable(peer) && !known.get(slot).copied().unwrap_or(false) {
                total += digest_entry_len(&peer.digest_entry(id));
            }
        }
        total.min(cap)
    }

    /// Our own entry and the ids whose state we want.
    fn leading_entries(&self) -> impl Iterator<Item = DigestEntry> + '_ {
        let me = DigestEntry {
            id: self.id.clone(),
            run: run_tag(self.config.generation),
            heartbeat: self.heartbeat,
            version: self.local.version(),
        };
        let wanted = self.wanted.keys().map(|id| DigestEntry {
            id: id.clone(),
            run: 0,
            heartbeat: 0,
            version: 0,
        });
        core::iter::once(me).chain(wanted)
    }

    /// A digest of at most `room` bytes of entries (plus flag and count):
    /// ours and the wanted ids first, then known nodes in random order until
    /// the room is full, so truncation favours no node round after round.
    pub(super) fn digest(&mut self, room: usize) -> Digest {
        self.digest_listing(room, &Listing::default(), None)
    }

    /// A probe's digest: our own entry and the ids we want, within `room`;
    /// incomplete, so the receiver takes nothing from what it leaves out.
    pub(super) fn probe_digest(&self, room: usize) -> Digest {
        let mut used = 0;
        let entries = self
            .leading_entries()
            .take_while(|entry| {
                used += digest_entry_len(entry);
                used <= room
            })
            .collect();
        Digest {
            complete: false,
            entries,
        }
    }

    /// A datagram digest: like [`Node::digest`], but the known nodes listed
    /// first are those in `listing.first`, then those whose state changed
    /// here in the last rounds, newest first, so a truncated digest still
    /// offers the news.
    pub(super) fn news_digest(
        &mut self,
        now: Timestamp,
        room: usize,
        listing: Listing<'_>,
    ) -> Digest {
        let since = now - self.config.gossip_interval * NEWS_ROUNDS;
        self.digest_listing(room, &listing, Some(News { now, since }))
    }

    /// The digest: leading entries, then `listing.first`, then nodes changed
    /// after `recent` (newest first), then the rest in random order.
    fn digest_listing(
        &mut self,
        room: usize,
        listing: &Listing<'_>,
        recent: Option<News>,
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
        // At most what fits or what there is, so the entries are not moved
        // as they grow.
        let mut entries = Vec::with_capacity(
            (room / FRESH_ENTRY_LEN).min(1 + self.wanted.len() + self.peers.len()),
        );
        let mut complete = true;
        for entry in self.leading_entries() {
            let len = digest_entry_len(&entry);
            if used + len > room {
                // The rest of the wanted ids wait for later digests (a
                // forming cluster can want thousands).
                complete = false;
                break;
            }
            used += len;
            entries.push(entry);
        }
        if listing.known.contains(&true) {
            // The receiver must not take the absence of those it knows for
            // ours not knowing them.
            complete = false;
        }
        let peers_listed = self.peers.listable_count();
        if peers_listed > ORDER_ALL_MAX && peers_listed * SHORTEST_ENTRY_LEN > room - used {
            return self.drawn_digest(entries, used, room, listing, recent);
        }
        let peers = &self.peers;
        let known = |slot: Slot| listing.known.get(slot).copied().unwrap_or(false);
        let mut order: Vec<Slot> = (0..peers.len())
            .filter(|&slot| listable(peers.at(slot).1) && !known(slot))
            .collect();
        let fits = order.iter().try_fold(used, |used, &slot| {
            let (id, peer) = peers.at(slot);
            Some(used + digest_entry_len(&peer.digest_entry(id))).filter(|&n| n <= room)
        });
        if fits.is_some() {
            // Everything fits, so the order does not matter: list the peers
            // as they lie in memory.
            entries.extend(order.iter().map(|&slot| {
                let (id, peer) = peers.at(slot);
                peer.digest_entry(id)
            }));
            return Digest { complete, entries };
        }
        let mut front = 0;
        if !listing.first.is_empty() {
            let mut is_first = vec![false; peers.len()];
            for &slot in listing.first {
                is_first[slot] = true;
            }
            for i in 0..order.len() {
                if is_first[order[i]] {
                    order.swap(front, i);
                    front += 1;
                }
            }
        }
        if let Some(recent) = recent {
            let news = front;
            let changed = |slot: Slot| peers.info(slot).changed.at(recent.now);
            for i in news..order.len() {
                if changed(order[i]) > recent.since {
                    order.swap(front, i);
                    front += 1;
                }
            }
            order[news..front].sort_by_key(|&slot| core::cmp::Reverse(changed(slot)));
            // Then, in half of the room left, the peers we heard from most
            // recently: the liveness evidence the receiver most likely
            // lacks, so it spreads like news instead of by chance.
            let quota = room.saturating_sub(used) / 2 / FRESH_ENTRY_LEN;
            let rest = &mut order[front..];
            if quota > 0 && quota < rest.len() {
                rest.select_nth_unstable_by_key(quota, |&slot| {
                    peers.at(slot).1.detector.silence(recent.now)
                });
                front += quota;
            }
        }
        for i in 0..order.len() {
            if i >= front {
                // A partial Fisher-Yates shuffle: only the listed nodes are drawn.
                let j = i + rng::index(&mut *self.rng, order.len() - i);
                order.swap(i, j);
            }
            let (id, peer) = self.peers.at(order[i]);
            let entry = peer.digest_entry(id);
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

    /// The digest of a large cluster, after the leading `entries` (`used`
    /// bytes of `room`): `listing.first`, then (if `recent` is given) the
    /// nodes changed here since then, newest first, then in half of the
    /// room left the nodes heard from most recently, then nodes drawn at
    /// random until the room is full. Never complete.
    fn drawn_digest(
        &mut self,
        entries: Vec<DigestEntry>,
        used: usize,
        room: usize,
        listing: &Listing<'_>,
        recent: Option<News>,
    ) -> Digest {
        let mut draft = Draft {
            entries,
            used,
            room,
            listed: Vec::new(),
        };
        let mut full = false;
        for &slot in listing.first {
            full |= !draft.offer(self, slot, listing);
        }
        if let Some(recent) = recent {
            let news: Vec<Slot> = newest(&self.recent.changed, &self.peers, |peers, slot, at| {
                peers.info(slot).changed == Millis::of(Timestamp::from_micros(at))
            })
            .take_while(|&(_, at)| at > recent.since.as_micros())
            .map(|(slot, _)| slot)
            .collect();
            for slot in listable_of(&self.peers, news) {
                full |= !draft.offer(self, slot, listing);
            }
            let quota = room.saturating_sub(draft.used) / 2 / FRESH_ENTRY_LEN;
            let heard: Vec<Slot> =
                newest(&self.recent.heard, &self.peers, |peers, slot, heartbeat| {
                    peers.at(slot).1.heartbeat == heartbeat
                })
                .take(quota)
                .map(|(slot, _)| slot)
                .collect();
            for slot in listable_of(&self.peers, heard) {
                full |= !draft.offer(self, slot, listing);
            }
        }
        // Draws until an entry does not fit; a bounded number of times, as
        // many draws may hit nodes listed already or left out. In batches
        // (see `listable_of`).
        let mut draws = 4 * (room / FRESH_ENTRY_LEN).min(self.peers.len()) + 32;
        while !full && draws > 0 {
            let batch = draws.min(DRAW_BATCH);
            draws -= batch;
            let drawn: Vec<Slot> = (0..batch)
                .map(|_| rng::index(&mut *self.rng, self.peers.len()))
                .collect();
            for slot in listable_of(&self.peers, drawn) {
                full = !draft.offer(self, slot, listing);
                if full {
                    break;
                }
            }
        }
        for &slot in &draft.listed {
            self.recent.unlist(slot);
        }
        Digest {
            complete: false,
            entries: draft.entries,
        }
    }
}

/// A drawn digest being built.
struct Draft {
    entries: Vec<DigestEntry>,
    used: usize,
    room: usize,
    /// Slots listed, to clear their marks when done.
    listed: Vec<Slot>,
}

impl Draft {
    /// Lists the peer in `slot` unless it is down, known to the receiver
    /// or listed already; false if its entry does not fit.
    fn offer(&mut self, node: &mut Node, slot: Slot, listing: &Listing<'_>) -> bool {
        let (id, peer) = node.peers.at(slot);
        if !listable(peer) || listing.known.get(slot).copied().unwrap_or(false) {
            return true;
        }
        let entry = peer.digest_entry(id);
        let len = digest_entry_len(&entry);
        if self.used + len > self.room {
            return false;
        }
        if node.recent.list(slot) {
            self.used += len;
            self.entries.push(entry);
            self.listed.push(slot);
        }
        true
    }
}

/// The slots of `slots` whose peers digests list, found in one pass
/// before any is offered: its reads (one cache miss each in a large table)
/// do not depend on one another, so the CPU issues them together, and the
/// offers then find the peers in cache. 100 rounds at N = 2,000: 26 -> 22 s
/// (`docs/benchmarks.md`).
fn listable_of(peers: &Peers, slots: Vec<Slot>) -> Vec<Slot> {
    slots
        .into_iter()
        .filter(|&slot| listable(peers.at(slot).1))
        .collect()
}

/// Whether digests list `peer`. Down peers are left out: advertising them
/// would make nodes that lack them ask for them and admit them afresh,
/// restarting their detection and expiry (the resurrection of DESIGN §8).
fn listable(peer: &Peer) -> bool {
    peer.status != NodeStatus::Down
}
