//! What this node knows about other nodes, and how liveness evidence and
//! remote state are admitted.

use core::net::SocketAddr;

use super::{Node, owned_entries};
use crate::event::{Event, NodeStatus, NodeView};
use crate::id::NodeId;
use crate::phi::PhiDetector;
use crate::state::{Change, NodeState};
use crate::time::Timestamp;
use crate::wire::{Delta, Digest, NodeDelta, UpdateKind};

/// A remote node.
pub(super) struct Peer {
    pub(super) addr: SocketAddr,
    pub(super) state: NodeState,
    /// Highest heartbeat seen: the liveness evidence that travels in digests.
    pub(super) heartbeat: u64,
    pub(super) status: NodeStatus,
    /// When `status` last changed.
    pub(super) since: Timestamp,
    /// When its state last advanced here (news to offer in digests).
    pub(super) changed: Timestamp,
    /// A newer heartbeat arrived since it was admitted. Only such a node is
    /// introduced to nodes that lack it, so stale state of a dead node
    /// cannot hop from newcomer to newcomer (DESIGN §8).
    pub(super) fresh: bool,
    pub(super) detector: PhiDetector,
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

/// An expired node, remembered so stale gossip cannot bring it back.
pub(super) struct Forgotten {
    pub(super) heartbeat: u64,
    pub(super) left: bool,
    pub(super) until: Timestamp,
}

impl Node {
    /// Remembers a forgotten id, keeping at most `max_nodes` of them. When
    /// full, an id expired from our own view (`evict`) takes the place of
    /// the one due to be dropped first; a refused newcomer is not
    /// remembered, so a stream of made-up ids cannot grow the set.
    pub(super) fn remember(&mut self, id: NodeId, forgotten: Forgotten, evict: bool) {
        if !self.forgotten.contains_key(&id) && self.forgotten.len() >= self.config.limits.max_nodes
        {
            if !evict {
                return;
            }
            let first = self
                .forgotten
                .iter()
                .min_by_key(|(_, f)| f.until)
                .map(|(id, _)| id.clone());
            if let Some(first) = first {
                self.forgotten.remove(&first);
            }
        }
        self.forgotten.insert(id, forgotten);
    }

    /// Whether a node we do not track may be (re)admitted on evidence
    /// `heartbeat`: never a node that left; an expired one only on a
    /// heartbeat newer than any it had when it was forgotten.
    pub(super) fn admissible(&self, id: &NodeId, heartbeat: u64) -> bool {
        match self.forgotten.get(id) {
            None => true,
            Some(f) => !f.left && heartbeat > f.heartbeat,
        }
    }

    /// Fresh evidence that `id` is alive when `heartbeat` is newer than any
    /// seen: feeds its detector, or brings it back up.
    pub(super) fn observe_heartbeat(&mut self, now: Timestamp, id: &NodeId, heartbeat: u64) {
        let interval = self.config.gossip_interval;
        let Some(peer) = self.peers.get_mut(id) else {
            return;
        };
        if heartbeat <= peer.heartbeat {
            return;
        }
        peer.heartbeat = heartbeat;
        peer.fresh = true;
        match peer.status {
            NodeStatus::Alive => peer.detector.record(now),
            NodeStatus::Down => {
                peer.status = NodeStatus::Alive;
                peer.since = now;
                peer.detector = PhiDetector::new(now, interval);
                self.emit(Event::NodeUp { id: id.clone() });
            }
            NodeStatus::Left => {}
        }
    }

    /// Learns from a digest: heartbeats of known nodes, and the ids of nodes
    /// we lack, to be asked for in our next digests.
    pub(super) fn observe_digest(&mut self, now: Timestamp, digest: &Digest) {
        for entry in &digest.entries {
            if entry.id == self.id {
                continue;
            }
            if self.peers.contains_key(&entry.id) {
                self.observe_heartbeat(now, &entry.id, entry.heartbeat);
            } else if entry.heartbeat > 0
                && !self.wanted.contains_key(&entry.id)
                && self.admissible(&entry.id, entry.heartbeat)
                && self.peers.len() + self.wanted.len() < self.config.limits.max_nodes
            {
                self.wanted
                    .insert(entry.id.clone(), now + self.config.node_expiry);
            }
        }
    }

    /// Applies state received from anyone. Nothing in it can lower a
    /// version, re-apply an older value, resurrect a deleted key or revive a
    /// node that left.
    pub(super) fn apply_delta(&mut self, now: Timestamp, delta: Delta) {
        for node in delta.nodes {
            if node.id != self.id {
                self.apply_node_delta(now, node);
            }
        }
    }

    fn apply_node_delta(&mut self, now: Timestamp, node: NodeDelta) {
        let dropped = node.updates.len().max(1) as u64;
        if !self.peers.contains_key(&node.id) {
            let new = node.from_version == 0
                && self.admissible(&node.id, node.heartbeat)
                && self.peers.len() < self.config.limits.max_nodes;
            if !new {
                self.stats.dropped_updates += dropped;
                return;
            }
            if node
                .updates
                .iter()
                .any(|u| matches!(u.kind, UpdateKind::Left))
            {
                // A node that already left is never (re)admitted: once
                // forgotten, its state (possibly served by the left process
                // itself) would otherwise re-discover it. Remember it so
                // its id is not asked for again.
                self.stats.dropped_updates += dropped;
                self.wanted.remove(&node.id);
                let forgotten = Forgotten {
                    heartbeat: node.heartbeat,
                    left: true,
                    until: now + self.config.node_expiry,
                };
                self.remember(node.id, forgotten, false);
                return;
            }
            self.forgotten.remove(&node.id);
            self.wanted.remove(&node.id);
            let peer = Peer {
                addr: node.addr,
                state: NodeState::default(),
                heartbeat: node.heartbeat,
                status: NodeStatus::Alive,
                since: now,
                changed: now,
                fresh: false,
                detector: PhiDetector::new(now, self.config.gossip_interval),
            };
            self.peers.insert(node.id.clone(), peer);
            self.emit(Event::NodeJoined {
                id: node.id.clone(),
                addr: node.addr,
            });
        } else {
            self.observe_heartbeat(now, &node.id, node.heartbeat);
        }
        let limits = &self.config.limits;
        let Some(peer) = self.peers.get_mut(&node.id) else {
            return;
        };
        if node.from_version > peer.state.version() {
            // A gap: these updates do not continue what we hold.
            self.stats.dropped_updates += dropped;
            return;
        }
        let before = peer.state.version();
        let mut changes = Vec::new();
        let mut previous = node.from_version;
        let mut refused = 0;
        let total = node.updates.len();
        for (i, update) in node.updates.into_iter().enumerate() {
            let in_order = update.version > previous;
            previous = update.version;
            if !in_order || peer.state.apply(update, limits, &mut changes).is_err() {
                refused = total - i;
                break;
            }
        }
        if peer.state.version() > before {
            peer.changed = now;
        }
        self.stats.dropped_updates += refused as u64;
        for change in changes {
            let id = node.id.clone();
            let event = match change {
                Change::Upserted { key, value } => Event::KeyUpserted { id, key, value },
                Change::Deleted { key, value } => Event::KeyDeleted { id, key, value },
                Change::Left => {
                    if let Some(peer) = self.peers.get_mut(&node.id) {
                        peer.status = NodeStatus::Left;
                        peer.since = now;
                    }
                    Event::NodeLeft { id }
                }
            };
            self.emit(event);
        }
    }
}
