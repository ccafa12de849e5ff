//! The remote nodes this node tracks, in a dense table.
//!
//! Every gossip round scans all peers (failure detection, picking targets,
//! building a digest) and every digest entry looks one up, so the table keeps
//! peers contiguous (a scan walks one array) and finds an id in one index
//! lookup. Removal swaps the last peer into the hole; order is therefore
//! arbitrary (but deterministic), never by id.

use core::net::SocketAddr;
use std::collections::HashMap;

use crate::event::{NodeStatus, NodeView};
use crate::id::NodeId;
use crate::phi::PhiDetector;
use crate::state::NodeState;
use crate::time::Timestamp;

use super::hasher::SipKey;
use super::owned_entries;

/// A remote node.
///
/// Laid out in declaration order, the fields every digest entry touches
/// first, so that observing a heartbeat reads one cache line.
#[repr(C)]
pub(super) struct Peer {
    /// Highest heartbeat seen: the liveness evidence that travels in digests.
    pub(super) heartbeat: u64,
    pub(super) detector: PhiDetector,
    pub(super) status: NodeStatus,
    /// A newer heartbeat arrived since it was admitted. Only such a node is
    /// introduced to nodes that lack it, so stale state of a dead node
    /// cannot hop from newcomer to newcomer (DESIGN §8).
    pub(super) fresh: bool,
    /// When `status` last changed.
    pub(super) since: Timestamp,
    /// When its state last advanced here (news to offer in digests).
    pub(super) changed: Timestamp,
    pub(super) state: NodeState,
    pub(super) addr: SocketAddr,
}

impl Peer {
    pub(super) fn view(&self, id: &NodeId) -> NodeView {
        NodeView {
            id: id.clone(),
            addr: self.addr,
            status: self.status,
            version: self.state.version(),
            entries: owned_entries(&self.state),
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
pub(super) struct Peers {
    index: HashMap<NodeId, Slot, SipKey>,
    ids: Vec<NodeId>,
    peers: Vec<Peer>,
}

impl Peers {
    /// An empty table whose index hashes with `key`.
    pub(super) fn new(key: SipKey) -> Self {
        Peers {
            index: HashMap::with_hasher(key),
            ids: Vec::new(),
            peers: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.peers.len()
    }

    /// Where `id` is, if tracked.
    pub(super) fn slot(&self, id: &NodeId) -> Option<Slot> {
        self.index.get(id).copied()
    }

    pub(super) fn contains_key(&self, id: &NodeId) -> bool {
        self.index.contains_key(id)
    }

    pub(super) fn get(&self, id: &NodeId) -> Option<&Peer> {
        self.slot(id).map(|slot| &self.peers[slot])
    }

    pub(super) fn get_mut(&mut self, id: &NodeId) -> Option<&mut Peer> {
        self.slot(id).map(|slot| &mut self.peers[slot])
    }

    /// The peer at `slot` and its id.
    pub(super) fn at(&self, slot: Slot) -> (&NodeId, &Peer) {
        (&self.ids[slot], &self.peers[slot])
    }

    pub(super) fn at_mut(&mut self, slot: Slot) -> &mut Peer {
        &mut self.peers[slot]
    }

    /// Tracks a node that is not tracked yet.
    pub(super) fn insert(&mut self, id: NodeId, peer: Peer) {
        debug_assert!(!self.index.contains_key(&id), "{id} tracked twice");
        self.index.insert(id.clone(), self.peers.len());
        self.ids.push(id);
        self.peers.push(peer);
    }

    /// Stops tracking `id`; the last peer takes its slot.
    pub(super) fn remove(&mut self, id: &NodeId) -> Option<Peer> {
        let slot = self.index.remove(id)?;
        self.ids.swap_remove(slot);
        let peer = self.peers.swap_remove(slot);
        if let Some(moved) = self.ids.get(slot) {
            self.index.insert(moved.clone(), slot);
        }
        Some(peer)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&NodeId, &Peer)> {
        self.ids.iter().zip(&self.peers)
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&NodeId, &mut Peer)> {
        self.ids.iter().zip(&mut self.peers)
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Peer> {
        self.peers.iter()
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Peer> {
        self.peers.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn peer(heartbeat: u64) -> Peer {
        Peer {
            addr: "127.0.0.1:7000".parse().unwrap(),
            state: NodeState::default(),
            heartbeat,
            status: NodeStatus::Alive,
            since: Timestamp::ZERO,
            changed: Timestamp::ZERO,
            fresh: false,
            detector: PhiDetector::new(Timestamp::ZERO, Duration::from_millis(500)),
        }
    }

    fn id(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    #[test]
    fn removal_keeps_every_other_peer_findable() {
        let mut peers = Peers::new(SipKey::default());
        for i in 0..5 {
            peers.insert(id(&format!("n{i}")), peer(i));
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
}
