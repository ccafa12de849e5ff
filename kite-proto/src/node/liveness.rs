//! Failure detection and expiry, run once per gossip round.

use super::Node;
use super::membership::Forgotten;
use crate::event::{Event, NodeStatus};
use crate::id::NodeId;
use crate::time::Timestamp;

impl Node {
    /// Marks silent nodes down and removes nodes that stayed left or down
    /// for `node_expiry`, remembering their ids for as long again.
    pub(super) fn check_liveness(&mut self, now: Timestamp) {
        let threshold = self.config.suspicion_threshold;
        let expiry = self.config.node_expiry;
        let mut down: Vec<NodeId> = Vec::new();
        let mut expired: Vec<NodeId> = Vec::new();
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
                }
                _ => {}
            }
        }
        for id in down {
            self.emit(Event::NodeDown { id });
        }
        for id in expired {
            if let Some(peer) = self.peers.remove(&id) {
                let forgotten = Forgotten {
                    heartbeat: peer.heartbeat,
                    left: peer.status == NodeStatus::Left,
                    until: now + expiry,
                };
                self.remember(id.clone(), forgotten, true);
                self.emit(Event::NodeExpired { id });
            }
        }
        self.forgotten.retain(|_, f| f.until > now);
        self.wanted.retain(|_, until| *until > now);
    }
}
