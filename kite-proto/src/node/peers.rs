//! The remote nodes this node tracks, in a dense table.
//!
//! Every gossip round scans all peers (failure detection, picking targets,
//! building a digest) and every digest entry looks one up, so the table keeps
//! peers contiguous (a scan walks one array) and finds an id with one probe
//! of a small index and one read of the peer, which holds its own id next
//! to the heartbeat the digest entry is compared with. Removal swaps the
//! last peer into the hole; order is therefore arbitrary (but
//! deterministic), never by id.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::event::{NodeStatus, NodeView};
use crate::id::NodeId;
use crate::phi::PhiDetector;
use crate::rng;
use crate::state::NodeState;
use crate::time::{Millis, Timestamp};
use crate::wire::{DigestEntry, run_tag};
use rand_core::RngCore;

use super::hasher::SipKey;
use super::owned_entries;

/// A remote node, as digest entries and heartbeats read it: one cache line
/// (64 bytes, aligned) holding what a digest lists and compares (id,
/// heartbeat, run, version, status) and the detector a fresh heartbeat
/// feeds, so that looking a peer up and observing its heartbeat reads one
/// line. The rest is in its [`PeerInfo`]. Every field is as narrow as it
/// can be without narrowing a protocol value (the detector keeps 32-bit
/// milliseconds, see [`Millis`]), because a node of a 10,000-node cluster
/// holds 10,000 peers (`docs/design.md`, "Memory").
#[repr(C, align(64))]
pub(super) struct Peer {
    pub(super) id: NodeId,
    /// Highest heartbeat seen: the liveness evidence that travels in digests.
    pub(super) heartbeat: u64,
    /// Which run of the node `heartbeat` and `state` belong to.
    pub(super) generation: u64,
    pub(super) state: NodeState,
    pub(super) status: NodeStatus,
    /// A newer heartbeat, or a message from the node itself, arrived since
    /// it was admitted. Only such a node is introduced to nodes that lack it
    /// (joiners aside, see `Node::join`), so stale state of a dead node
    /// cannot hop from newcomer to newcomer (DESIGN §8).
    pub(super) fresh: bool,
    pub(super) detector: PhiDetector,
}

/// What the table keeps of a peer besides its [`Peer`], read off the paths
/// that run for every digest entry (sending to it, status changes, expiry,
/// news): 16 bytes, in a table of their own. The address is read through
/// [`Peers::addr`]: an IPv4 address and its port are inline; an IPv6 one
/// (rarer in clusters, and 28 bytes) lives in the table's list of them.
pub(super) struct PeerInfo {
    /// The IPv4 address, or the index of the IPv6 address in `Peers::v6`.
    host: u32,
    /// When the peer's status last changed.
    pub(super) since: Millis,
    /// When its state last advanced here (news to offer in digests).
    pub(super) changed: Millis,
    /// The IPv4 address's port (an IPv6 address holds its own).
    port: u16,
    v6: bool,
}

impl Peer {
    /// This peer (named `id`) as a digest lists it.
    pub(super) fn digest_entry(&self, id: &NodeId) -> DigestEntry {
        DigestEntry {
            id: id.clone(),
            run: run_tag(self.generation),
            heartbeat: self.heartbeat,
            version: self.state.version(),
        }
    }
}

/// Position of a peer in the table; valid until the next removal.
pub(super) type Slot = usize;

/// Whom an id names, looked up once per digest entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Whom {
    /// This node.
    Local,
    /// A tracked peer.
    Peer(Slot),
    /// A node we do not track.
    Unknown,
}

/// The tracked remote nodes.
///
/// Statuses change only through [`Peers::set_status`], which keeps count of
/// the alive peers and a list of the down ones, so a round picks its targets
/// without scanning a large table.
pub(super) struct Peers {
    index: Index,
    peers: Vec<Peer>,
    /// By slot, like `peers`.
    info: Vec<PeerInfo>,
    alive: usize,
    /// Slots of the down peers, in no order.
    down: Vec<Slot>,
    /// The IPv6 addresses of peers, where their [`PeerInfo`] points.
    v6: Vec<SocketAddrV6>,
    /// Entries of `v6` no peer points to.
    free_v6: Vec<u32>,
}

impl Peers {
    /// An empty table whose index hashes with `key`.
    pub(super) fn new(key: SipKey) -> Self {
        Peers {
            index: Index {
                key,
                buckets: Vec::new(),
            },
            peers: Vec::new(),
            info: Vec::new(),
            alive: 0,
            down: Vec::new(),
            v6: Vec::new(),
            free_v6: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.peers.len()
    }

    /// Where `id` is, if tracked.
    pub(super) fn slot(&self, id: &NodeId) -> Option<Slot> {
        self.index.find(id, &self.peers).map(|(_, slot)| slot)
    }

    /// Where each of `ids` is, if tracked: [`Peers::slot`] for many ids at
    /// once. In passes, each of whose memory reads do not depend on one
    /// another, so that the CPU issues them together instead of each
    /// waiting for the previous one (a digest names peers all over a large
    /// table, and each read misses the caches): hash every id; read ahead
    /// the bucket where each probe starts; probe (mostly in those buckets);
    /// check the ids in the peers.
    pub(super) fn slots<'a>(
        &self,
        ids: impl Iterator<Item = &'a NodeId> + Clone,
    ) -> Vec<Option<Slot>> {
        let hashes: Vec<u32> = ids.clone().map(|id| self.index.hash(id)).collect();
        for &hash in &hashes {
            self.index.read_ahead(hash);
        }
        let guesses: Vec<Option<Slot>> = hashes.iter().map(|&h| self.index.guess(h)).collect();
        ids.zip(guesses)
            .map(|(id, guess)| match guess {
                Some(slot) if self.peers[slot].id == *id => Some(slot),
                // A colliding hash (or none): the thorough lookup.
                Some(_) => self.slot(id),
                None => None,
            })
            .collect()
    }

    pub(super) fn contains_key(&self, id: &NodeId) -> bool {
        self.slot(id).is_some()
    }

    pub(super) fn get(&self, id: &NodeId) -> Option<&Peer> {
        self.slot(id).map(|slot| &self.peers[slot])
    }

    pub(super) fn get_mut(&mut self, id: &NodeId) -> Option<&mut Peer> {
        self.slot(id).map(|slot| &mut self.peers[slot])
    }

    /// The peer at `slot` and its id.
    pub(super) fn at(&self, slot: Slot) -> (&NodeId, &Peer) {
        let peer = &self.peers[slot];
        (&peer.id, peer)
    }

    pub(super) fn at_mut(&mut self, slot: Slot) -> &mut Peer {
        &mut self.peers[slot]
    }

    /// The rest of what is known of the peer at `slot`.
    pub(super) fn info(&self, slot: Slot) -> &PeerInfo {
        &self.info[slot]
    }

    pub(super) fn info_mut(&mut self, slot: Slot) -> &mut PeerInfo {
        &mut self.info[slot]
    }

    /// Where the peer at `slot` is reached.
    pub(super) fn addr(&self, slot: Slot) -> SocketAddr {
        let info = &self.info[slot];
        if info.v6 {
            SocketAddr::V6(self.v6[info.host as usize])
        } else {
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from_bits(info.host), info.port))
        }
    }

    /// Moves the peer at `slot` to `addr` (a later run of it lives there).
    pub(super) fn set_addr(&mut self, slot: Slot, addr: SocketAddr) {
        self.release_v6(slot);
        let (host, port, v6) = self.host(addr);
        let info = &mut self.info[slot];
        (info.host, info.port, info.v6) = (host, port, v6);
    }

    /// How a [`PeerInfo`] holds `addr`, taking an entry of `v6` for an IPv6
    /// address.
    fn host(&mut self, addr: SocketAddr) -> (u32, u16, bool) {
        match addr {
            SocketAddr::V4(addr) => (addr.ip().to_bits(), addr.port(), false),
            SocketAddr::V6(addr) => {
                let entry = match self.free_v6.pop() {
                    Some(entry) => {
                        self.v6[entry as usize] = addr;
                        entry
                    }
                    None => {
                        self.v6.push(addr);
                        // At most one entry a peer, and peers are at most
                        // 2^24 (`max_nodes`).
                        (self.v6.len() - 1) as u32
                    }
                };
                (entry, 0, true)
            }
        }
    }

    /// Frees the `v6` entry of the peer at `slot`, if it has one.
    fn release_v6(&mut self, slot: Slot) {
        let info = &mut self.info[slot];
        if core::mem::take(&mut info.v6) {
            self.free_v6.push(info.host);
        }
    }

    /// The peer at `slot` as the application sees it.
    pub(super) fn view(&self, slot: Slot) -> NodeView {
        let peer = &self.peers[slot];
        NodeView {
            id: peer.id.clone(),
            generation: peer.generation,
            addr: self.addr(slot),
            status: peer.status,
            version: peer.state.version(),
            entries: owned_entries(&peer.state),
        }
    }

    /// Alive peers.
    pub(super) fn alive_count(&self) -> usize {
        self.alive
    }

    /// Peers that digests list: all but the down ones.
    pub(super) fn listable_count(&self) -> usize {
        self.peers.len() - self.down.len()
    }

    /// Changes the status of the peer in `slot` (and when it changed, if
    /// it did).
    pub(super) fn set_status(&mut self, slot: Slot, status: NodeStatus, now: Timestamp) {
        let was = self.peers[slot].status;
        if was == status {
            return;
        }
        self.uncount(slot);
        self.peers[slot].status = status;
        self.info[slot].since = Millis::of(now);
        self.count(slot);
    }

    fn count(&mut self, slot: Slot) {
        match self.peers[slot].status {
            NodeStatus::Alive => self.alive += 1,
            NodeStatus::Down => self.down.push(slot),
            NodeStatus::Left => {}
        }
    }

    fn uncount(&mut self, slot: Slot) {
        match self.peers[slot].status {
            NodeStatus::Alive => self.alive -= 1,
            NodeStatus::Down => self.down.retain(|&s| s != slot),
            NodeStatus::Left => {}
        }
    }

    /// Whether the counts kept by [`Peers::set_status`] match the table
    /// (for `Node::audit`).
    #[cfg(any(test, feature = "arbitrary"))]
    pub(super) fn check_counts(&self) -> Result<(), String> {
        let alive = self
            .peers
            .iter()
            .filter(|peer| peer.status == NodeStatus::Alive)
            .count();
        let mut down: Vec<Slot> = (0..self.peers.len())
            .filter(|&slot| self.peers[slot].status == NodeStatus::Down)
            .collect();
        let mut listed = self.down.clone();
        listed.sort_unstable();
        down.sort_unstable();
        if alive != self.alive || down != listed {
            return Err(format!(
                "{alive} alive and down slots {down:?}, counted {} and {listed:?}",
                self.alive
            ));
        }
        Ok(())
    }

    /// Whether every IPv6 entry belongs to exactly one peer or is free
    /// (for `Node::audit`).
    #[cfg(any(test, feature = "arbitrary"))]
    pub(super) fn check_addresses(&self) -> Result<(), String> {
        let mut owners = vec![0u32; self.v6.len()];
        let held = self
            .info
            .iter()
            .filter(|info| info.v6)
            .map(|info| info.host);
        for entry in held.chain(self.free_v6.iter().copied()) {
            match owners.get_mut(entry as usize) {
                Some(count) => *count += 1,
                None => return Err(format!("IPv6 entry {entry} out of {}", self.v6.len())),
            }
        }
        match owners.iter().position(|&n| n != 1) {
            Some(entry) => Err(format!("IPv6 entry {entry} held {} times", owners[entry])),
            None => Ok(()),
        }
    }

    /// Up to `k` distinct alive peers, drawn uniformly. Draws slots at
    /// random while most peers are alive (a few draws, whatever the size of
    /// the table), else picks among a list of the alive ones.
    pub(super) fn sample_alive(&self, rng: &mut dyn RngCore, k: usize) -> Vec<Slot> {
        let k = k.min(self.alive);
        if 4 * k > self.alive || 2 * self.alive < self.peers.len() {
            let alive: Vec<Slot> = (0..self.peers.len())
                .filter(|&slot| self.peers[slot].status == NodeStatus::Alive)
                .collect();
            return rng::sample(rng, &alive, k);
        }
        let mut picked = Vec::with_capacity(k);
        while picked.len() < k {
            let slot = rng::index(rng, self.peers.len());
            if self.peers[slot].status == NodeStatus::Alive && !picked.contains(&slot) {
                picked.push(slot);
            }
        }
        picked
    }

    /// A random down peer, if any.
    pub(super) fn sample_down(&self, rng: &mut dyn RngCore) -> Option<Slot> {
        (!self.down.is_empty()).then(|| self.down[rng::index(rng, self.down.len())])
    }

    /// Tracks a node that is not tracked yet, reached at `addr`, whose
    /// status and state are new at `now`.
    pub(super) fn insert(&mut self, peer: Peer, addr: SocketAddr, now: Timestamp) {
        debug_assert!(!self.contains_key(&peer.id), "{} tracked twice", peer.id);
        let slot = self.peers.len();
        self.index.insert(&peer.id, slot, &self.peers);
        if self.peers.len() == self.peers.capacity() {
            // Grow by an eighth, not the default doubling: in a large
            // cluster the table is most of a node's memory.
            let more = self.peers.len() / 8 + 4;
            self.peers.reserve_exact(more);
            self.info
                .reserve_exact(self.peers.capacity() - self.info.len());
        }
        let (host, port, v6) = self.host(addr);
        self.peers.push(peer);
        self.info.push(PeerInfo {
            host,
            since: Millis::of(now),
            changed: Millis::of(now),
            port,
            v6,
        });
        self.count(slot);
    }

    /// Stops tracking `id`; the last peer takes its slot.
    pub(super) fn remove(&mut self, id: &NodeId) -> Option<Peer> {
        let (bucket, slot) = self.index.find(id, &self.peers)?;
        let last = self.peers.len() - 1;
        self.uncount(slot);
        self.index.remove(bucket, slot, last, &self.peers);
        if let Some(moved) = self.down.iter_mut().find(|s| **s == last) {
            *moved = slot;
        }
        self.release_v6(slot);
        self.info.swap_remove(slot);
        Some(self.peers.swap_remove(slot))
    }

    /// Every peer as the application sees it.
    pub(super) fn views(&self) -> impl Iterator<Item = NodeView> + '_ {
        (0..self.peers.len()).map(|slot| self.view(slot))
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&NodeId, &Peer)> {
        self.peers.iter().map(|peer| (&peer.id, peer))
    }

    /// Every peer's failure detector.
    pub(super) fn detectors_mut(&mut self) -> impl Iterator<Item = &mut PhiDetector> {
        self.peers.iter_mut().map(|peer| &mut peer.detector)
    }

    /// The peers in `range` of slots (clamped to the table).
    pub(super) fn range(&self, range: core::ops::Range<Slot>) -> &[Peer] {
        let end = range.end.min(self.peers.len());
        &self.peers[range.start.min(end)..end]
    }
}

/// Hash index from ids to slots: open addressing with linear probing, at
/// most three quarters full. A bucket is 4 bytes: an occupied bit, 7 bits of
/// the id's hash (a tag that skips most buckets of other ids without
/// reading their peers) and the 24-bit slot (`max_nodes` is at most 2^24);
/// the hash's low bits place it. The id itself is compared in the peer.
/// Buckets of 8 bytes with 32 bits of hash took 13 bytes a peer at
/// N = 10,000, these 6.5 (`docs/design.md`, "Memory"); a table that grows
/// or loses a peer hashes the ids it moves again, since the buckets keep
/// too little of their hashes.
struct Index {
    key: SipKey,
    /// A power of two long, or empty.
    buckets: Vec<u32>,
}

/// The occupied bit of a bucket.
const OCCUPIED: u32 = 1 << 31;

/// The slot bits of a bucket.
const SLOT_BITS: u32 = (1 << 24) - 1;

impl Index {
    /// The bucket and slot of `id`.
    fn find(&self, id: &NodeId, peers: &[Peer]) -> Option<(usize, Slot)> {
        self.probe(self.hash(id), |slot| peers[slot].id == *id)
    }

    /// The slot of the first bucket whose tag is `hash`'s: the slot of the
    /// id with that hash unless another id shares the tag. `None`: not
    /// tracked.
    fn guess(&self, hash: u32) -> Option<Slot> {
        self.probe(hash, |_| true).map(|(_, slot)| slot)
    }

    fn hash(&self, id: &NodeId) -> u32 {
        (self.key.hash_id(id) >> 32) as u32
    }

    /// The bucket `hash` is placed from.
    fn home(&self, hash: u32) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    /// The occupied bucket of `slot` for an id hashed to `hash`.
    fn bucket(hash: u32, slot: Slot) -> u32 {
        OCCUPIED | (hash >> 25) << 24 | slot as u32
    }

    /// Reads the bucket where probing for `hash` starts and drops it, so
    /// that the reads of many lookups overlap instead of each waiting on
    /// its own (`black_box` keeps the read from being optimized away;
    /// nothing depends on it).
    fn read_ahead(&self, hash: u32) {
        if !self.buckets.is_empty() {
            core::hint::black_box(self.buckets[self.home(hash)]);
        }
    }

    /// The first bucket from `hash`'s on that has `hash`'s tag and a slot
    /// `accept`ed, with that slot; `None` at the first empty bucket.
    fn probe(&self, hash: u32, accept: impl Fn(Slot) -> bool) -> Option<(usize, Slot)> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let tag = Self::bucket(hash, 0);
        let mut bucket = self.home(hash);
        loop {
            match self.buckets[bucket] {
                0 => return None,
                b if b & !SLOT_BITS == tag && accept((b & SLOT_BITS) as Slot) => {
                    return Some((bucket, (b & SLOT_BITS) as Slot));
                }
                _ => bucket = (bucket + 1) & mask,
            }
        }
    }

    /// Indexes `slot`, the peer in which is named `id`; `peers` are the
    /// others (their ids are hashed again if the table grows).
    fn insert(&mut self, id: &NodeId, slot: Slot, peers: &[Peer]) {
        if 4 * (slot + 1) > 3 * self.buckets.len() {
            let grown = (4 * (slot + 1)).div_ceil(3).next_power_of_two().max(16);
            let old = core::mem::replace(&mut self.buckets, vec![0; grown]);
            for bucket in old.into_iter().filter(|&b| b != 0) {
                let moved = (bucket & SLOT_BITS) as Slot;
                self.place(self.hash(&peers[moved].id), moved);
            }
        }
        self.place(self.hash(id), slot);
    }

    /// Puts `slot` in the first free bucket from its hash's on.
    fn place(&mut self, hash: u32, slot: Slot) {
        let mask = self.buckets.len() - 1;
        let mut bucket = self.home(hash);
        while self.buckets[bucket] != 0 {
            bucket = (bucket + 1) & mask;
        }
        self.buckets[bucket] = Self::bucket(hash, slot);
    }

    /// Forgets `slot` (in `bucket`); the peer in slot `last` is about to
    /// move to `slot`. `peers` is the table before the move. Linear probing
    /// cannot just empty a bucket (a probe would stop there), so the
    /// buckets after it that may move back do (backward-shift deletion).
    fn remove(&mut self, bucket: usize, slot: Slot, last: Slot, peers: &[Peer]) {
        let mask = self.buckets.len() - 1;
        self.buckets[bucket] = 0;
        let mut hole = bucket;
        let mut next = (bucket + 1) & mask;
        while self.buckets[next] != 0 {
            let home = self.home(self.hash(&peers[(self.buckets[next] & SLOT_BITS) as Slot].id));
            // It may fill the hole unless its home lies after the hole.
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                self.buckets[hole] = core::mem::take(&mut self.buckets[next]);
                hole = next;
            }
            next = (next + 1) & mask;
        }
        if last != slot {
            let hash = self.hash(&peers[last].id);
            if let Some((moved, _)) = self.probe(hash, |s| s == last) {
                self.buckets[moved] = Self::bucket(hash, slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn peer(name: &str, heartbeat: u64) -> Peer {
        Peer {
            id: id(name),
            generation: 0,
            state: NodeState::default(),
            heartbeat,
            status: NodeStatus::Alive,
            fresh: false,
            detector: PhiDetector::new(Timestamp::ZERO, Duration::from_millis(500)),
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn id(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    #[test]
    fn a_peer_takes_one_cache_line_and_16_bytes() {
        assert_eq!(core::mem::size_of::<Peer>(), 64);
        assert_eq!(core::mem::size_of::<PeerInfo>(), 16);
        assert_eq!(core::mem::offset_of!(Peer, status), 48);
        assert_eq!(core::mem::offset_of!(Peer, detector), 52);
    }

    #[test]
    fn addresses_of_both_families_follow_their_peers() {
        let mut peers = Peers::new(SipKey::default());
        let of = |i: u64| {
            if i.is_multiple_of(2) {
                addr(&format!("127.0.0.{i}:70{i:02}"))
            } else {
                SocketAddr::V6(SocketAddrV6::new(
                    format!("fe80::{i}").parse().unwrap(),
                    7100,
                    0,
                    i as u32,
                ))
            }
        };
        for i in 0..8 {
            peers.insert(peer(&format!("n{i}"), i), of(i), Timestamp::ZERO);
        }
        // Removals move the last peers into the holes and free IPv6 entries;
        // later IPv6 peers and address changes reuse them.
        peers.remove(&id("n1"));
        peers.remove(&id("n2"));
        peers.insert(peer("n9", 9), of(9), Timestamp::ZERO);
        let moved = peers.slot(&id("n3")).unwrap();
        peers.set_addr(moved, of(4));
        let again = peers.slot(&id("n4")).unwrap();
        peers.set_addr(again, of(11));
        assert!(peers.v6.len() <= 4, "{} IPv6 entries", peers.v6.len());
        let expected = |i: u64| match i {
            3 => of(4),
            4 => of(11),
            i => of(i),
        };
        for i in [0, 3, 4, 5, 6, 7, 9] {
            let slot = peers.slot(&id(&format!("n{i}"))).unwrap();
            assert_eq!(peers.addr(slot), expected(i), "n{i}");
        }
        peers.check_addresses().unwrap();
    }

    #[test]
    fn statuses_are_counted_through_changes_and_removals() {
        use crate::rng::SeededRng;
        let mut rng = SeededRng::from_seed_u64(5);
        let mut peers = Peers::new(SipKey::default());
        for i in 0..40 {
            peers.insert(
                peer(&format!("n{i}"), i),
                addr("127.0.0.1:7000"),
                Timestamp::ZERO,
            );
        }
        let now = Timestamp::from_millis(7);
        for slot in [3, 9, 17, 39] {
            peers.set_status(slot, NodeStatus::Down, now);
        }
        peers.set_status(5, NodeStatus::Left, now);
        assert_eq!(peers.info(3).since, Millis::of(now));
        assert_eq!((peers.alive_count(), peers.listable_count()), (35, 36));
        peers.check_counts().unwrap();
        // The last peer (down, slot 39) moves into the removed slot 9.
        assert!(peers.remove(&id("n9")).is_some());
        peers.check_counts().unwrap();
        peers.set_status(3, NodeStatus::Alive, now);
        peers.check_counts().unwrap();
        for _ in 0..100 {
            let drawn = peers.sample_alive(&mut rng, 3);
            assert_eq!(drawn.len(), 3);
            assert!(
                drawn
                    .iter()
                    .all(|&s| peers.at(s).1.status == NodeStatus::Alive)
            );
            assert!(drawn[0] != drawn[1] && drawn[1] != drawn[2] && drawn[0] != drawn[2]);
            let down = peers.sample_down(&mut rng).unwrap();
            assert_eq!(peers.at(down).1.status, NodeStatus::Down);
        }
        assert_eq!(peers.sample_alive(&mut rng, 100).len(), peers.alive_count());
    }

    #[test]
    fn removal_keeps_every_other_peer_findable() {
        let mut peers = Peers::new(SipKey::default());
        for i in 0..5 {
            peers.insert(
                peer(&format!("n{i}"), i),
                addr("127.0.0.1:7000"),
                Timestamp::ZERO,
            );
        }
        assert_eq!(peers.remove(&id("n1")).map(|p| p.heartbeat), Some(1));
        assert!(peers.remove(&id("n1")).is_none());
        assert_eq!(peers.remove(&id("n4")).map(|p| p.heartbeat), Some(4));
        assert_eq!(peers.len(), 3);
        for i in [0, 2, 3] {
            let n = id(&format!("n{i}"));
            let slot = peers.slot(&n).unwrap();
            assert_eq!(peers.at(slot).0, &n);
            assert_eq!(peers.get(&n).unwrap().heartbeat, i);
        }
        assert_eq!(peers.iter().count(), 3);
    }

    #[test]
    fn agrees_with_an_ordered_map_over_random_inserts_and_removals() {
        use crate::rng::SeededRng;
        use core::net::Ipv6Addr;
        use rand_core::RngCore;
        use std::collections::BTreeMap;
        use std::collections::btree_map::Entry;
        let mut rng = SeededRng::from_seed_u64(3);
        let mut peers = Peers::new(SipKey::random(&mut rng));
        let mut model = BTreeMap::new();
        // Every third peer is reached over IPv6; addresses follow heartbeats.
        let addr_of = |step: u64| match step % 3 {
            0 => SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from_bits(step.into()),
                7000,
                0,
                0,
            )),
            _ => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from_bits(step as u32), 7000)),
        };
        for step in 0..20_000u64 {
            let name = format!("n{}", rng.next_u32() % 600);
            if rng.next_u32().is_multiple_of(3) {
                assert_eq!(
                    peers.remove(&id(&name)).map(|p| p.heartbeat),
                    model.remove(&name),
                    "step {step}"
                );
            } else if let Entry::Vacant(vacant) = model.entry(name) {
                peers.insert(peer(vacant.key(), step), addr_of(step), Timestamp::ZERO);
                vacant.insert(step);
            }
        }
        assert_eq!(peers.len(), model.len());
        for (name, heartbeat) in &model {
            let slot = peers.slot(&id(name)).unwrap();
            assert_eq!(peers.at(slot).1.heartbeat, *heartbeat);
            assert_eq!(peers.addr(slot), addr_of(*heartbeat));
        }
        peers.check_addresses().unwrap();
        assert!(peers.get(&id("absent")).is_none());
    }
}
