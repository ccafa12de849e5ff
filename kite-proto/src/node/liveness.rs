//! Failure detection and expiry, run once per gossip round.

use core::time::Duration;

use super::Node;
use super::membership::Forgotten;
use super::peers::{Peer, Slot};
use crate::event::{Event, NodeStatus};
use crate::id::NodeId;
use crate::time::Timestamp;

impl Node {
    /// Marks silent nodes down and removes nodes that stayed left or down
    /// for `node_expiry`, remembering their ids for as long again. Peers are
    /// scanned only once something may be due (see [`Node::check_by`]).
    pub(super) fn check_liveness(&mut self, now: Timestamp) {
        self.forgotten.retain(|_, f| f.until > now);
        self.wanted.retain(|_, until| *until > now);
        if now < self.liveness_due {
            return;
        }
        let threshold = self.config.suspicion_threshold;
        let expiry = self.config.node_expiry;
        let mut down: Vec<NodeId> = Vec::new();
        let mut expired: Vec<NodeId> = Vec::new();
        let mut next = Timestamp::from_micros(u64::MAX);
        for peer in self.peers.values_mut() {
            match peer.status {
                NodeStatus::Alive if peer.detector.phi(now) > threshold => {
                    peer.status = NodeStatus::Down;
                    peer.since = now;
                    down.push(peer.id.clone());
                }
                NodeStatus::Down | NodeStatus::Left
                    if now.saturating_since(peer.since) >= expiry =>
                {
                    expired.push(peer.id.clone());
                    continue;
                }
                _ => {}
            }
            next = next.min(due(peer, threshold, expiry));
        }
        self.liveness_due = next;
        if !down.is_empty() || !expired.is_empty() {
            self.ring_changed();
        }
        for id in down {
            self.emit(Event::NodeDown { id });
        }
        for id in expired {
            self.forget_monitoring(&id);
            if let Some(peer) = self.peers.remove(&id) {
                let left = peer.status == NodeStatus::Left;
                let forgotten = Forgotten {
                    generation: peer.generation,
                    heartbeat: peer.heartbeat,
                    left,
                    until: now + Forgotten::memory(left, expiry),
                };
                self.remember(id.clone(), forgotten, true);
                self.emit(Event::NodeExpired { id });
            }
        }
    }

    /// Makes the next liveness check scan the peers if the one in `slot`
    /// may be due before the others: called whenever a peer's detector or
    /// status changes outside the scan.
    pub(super) fn check_by(&mut self, slot: Slot) {
        let (threshold, expiry) = (self.config.suspicion_threshold, self.config.node_expiry);
        let at = due(self.peers.at(slot).1, threshold, expiry);
        self.liveness_due = self.liveness_due.min(at);
    }
}

/// When `peer` may next need the liveness check: conviction if silent, or
/// expiry once down or left.
fn due(peer: &Peer, threshold: f64, expiry: Duration) -> Timestamp {
    match peer.status {
        NodeStatus::Alive => peer.detector.suspect_at(threshold),
        NodeStatus::Down | NodeStatus::Left => peer.since + expiry,
    }
}
