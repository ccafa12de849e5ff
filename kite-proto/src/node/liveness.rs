//! Failure detection and expiry, run once per gossip round.

use core::time::Duration;

use super::Node;
use super::membership::Forgotten;
use super::peers::{Peer, PeerInfo, Slot};
use crate::event::{Event, NodeStatus};
use crate::id::NodeId;
use crate::time::Timestamp;

/// Up to this many peers, the liveness check scans them all, once something
/// may be due.
const FULL_SCAN_MAX: usize = 1024;

/// Above [`FULL_SCAN_MAX`] peers, each round checks the next slice of the
/// table, so every peer is checked at least once in this many rounds.
const SWEEP_ROUNDS: usize = 32;

/// The smallest slice a round checks in a large table.
const SWEEP_MIN: usize = 256;

impl Node {
    /// Marks silent nodes down and removes nodes that stayed left or down
    /// for `node_expiry`, remembering their ids for as long again.
    ///
    /// A table of up to [`FULL_SCAN_MAX`] peers is scanned whole, and only
    /// once something may be due (see [`Node::check_by`]). A larger one is
    /// swept a slice a round ([`SWEEP_ROUNDS`]): in a large cluster some
    /// peer is always nearly due, and scanning ten thousand peers every
    /// round was most of a round's work. The monitors' verdicts do not wait
    /// for the sweep; only the slower gossip-fed path and expiry do, by at
    /// most [`SWEEP_ROUNDS`] rounds.
    pub(super) fn check_liveness(&mut self, now: Timestamp) {
        self.forgotten.retain(|_, f| f.until > now);
        self.wanted.retain(|_, until| *until > now);
        let len = self.peers.len();
        let whole = len <= FULL_SCAN_MAX;
        if whole && now < self.liveness_due {
            return;
        }
        let (start, count) = if whole {
            (0, len)
        } else {
            let start = self.sweep_from % len;
            let count = len.div_ceil(SWEEP_ROUNDS).max(SWEEP_MIN);
            self.sweep_from = start + count;
            (start, count)
        };
        let threshold = self.config.suspicion_threshold;
        let expiry = self.config.node_expiry;
        let floor = self.arrivals.get();
        let mut down: Vec<Slot> = Vec::new();
        let mut expired: Vec<NodeId> = Vec::new();
        let mut next = Timestamp::from_micros(u64::MAX);
        // The slice may wrap around the end of the table.
        let wrapped = (start + count).saturating_sub(len);
        let slices = [
            (start, self.peers.range(start..start + count)),
            (0, self.peers.range(0..wrapped)),
        ];
        for (first, peers) in slices {
            for (i, peer) in peers.iter().enumerate() {
                let info = self.peers.info(first + i);
                match peer.status {
                    NodeStatus::Alive if peer.detector.phi(now, floor) > threshold => {
                        down.push(first + i);
                        continue;
                    }
                    NodeStatus::Down | NodeStatus::Left if info.since.age(now) >= expiry => {
                        expired.push(peer.id.clone());
                        continue;
                    }
                    _ => {}
                }
                next = next.min(due(peer, info, threshold, floor, expiry, now));
            }
        }
        for slot in down {
            self.peers.set_status(slot, NodeStatus::Down, now);
            next = next.min(now + expiry);
            let id = self.peers.at(slot).0.clone();
            self.ring_changed(&id);
            self.emit(Event::NodeDown { id });
        }
        if whole {
            self.liveness_due = next;
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
                self.ring_changed(&id);
                self.remember(id.clone(), forgotten, true);
                self.emit(Event::NodeExpired { id });
            }
        }
    }

    /// Makes the next liveness check scan the peers if the one in `slot`
    /// may be due before the others: called whenever a peer's detector or
    /// status changes outside the scan.
    pub(super) fn check_by(&mut self, slot: Slot, now: Timestamp) {
        let (threshold, expiry) = (self.config.suspicion_threshold, self.config.node_expiry);
        let at = due(
            self.peers.at(slot).1,
            self.peers.info(slot),
            threshold,
            self.arrivals.get(),
            expiry,
            now,
        );
        self.liveness_due = self.liveness_due.min(at);
    }
}

/// When `peer` may next need the liveness check, as seen at `now`:
/// conviction if silent, or expiry once down or left.
fn due(
    peer: &Peer,
    info: &PeerInfo,
    threshold: f64,
    floor: Duration,
    expiry: Duration,
    now: Timestamp,
) -> Timestamp {
    match peer.status {
        NodeStatus::Alive => peer.detector.suspect_at(threshold, floor, now),
        NodeStatus::Down | NodeStatus::Left => info.since.at(now) + expiry,
    }
}
