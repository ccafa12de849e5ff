//! What this node knows about other nodes, and how liveness evidence and
//! remote state are admitted.

use core::time::Duration;

use super::Node;
use super::peers::{Peer, Slot, Whom};
use crate::event::{Event, NodeStatus};
use crate::id::NodeId;
use crate::phi::PhiDetector;
use crate::state::{Change, NodeState};
use crate::time::Timestamp;
use crate::wire::{Delta, Digest, NodeDelta, UpdateKind};

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
        if let Some(slot) = self.peers.slot(id) {
            self.observe_heartbeat_at(now, slot, heartbeat);
        }
    }

    fn observe_heartbeat_at(&mut self, now: Timestamp, slot: Slot, heartbeat: u64) {
        let prior = self.typical_interval();
        let peer = self.peers.at_mut(slot);
        if heartbeat <= peer.heartbeat {
            return;
        }
        peer.heartbeat = heartbeat;
        peer.fresh = true;
        match peer.status {
            NodeStatus::Alive => {
                if let Some(interval) = peer.detector.record(now) {
                    self.arrivals.add(interval);
                }
            }
            NodeStatus::Down => {
                peer.status = NodeStatus::Alive;
                peer.since = now;
                peer.detector = PhiDetector::new(now, prior);
                let id = self.peers.at(slot).0.clone();
                self.emit(Event::NodeUp { id });
            }
            NodeStatus::Left => {}
        }
        self.check_by(slot);
    }

    /// How often fresh evidence of a peer typically arrives here: the prior
    /// of a new peer's detector. With truncated digests in a large cluster
    /// that is several gossip intervals, and a newcomer primed with one
    /// interval would be convicted after a gap normal for everyone else.
    fn typical_interval(&self) -> Duration {
        self.arrivals.get().max(self.config.gossip_interval)
    }

    /// Learns from a digest: heartbeats of known nodes, and the ids of nodes
    /// we lack, to be asked for in our next digests. Returns whom each entry
    /// names, for answering the digest without looking the ids up again.
    pub(super) fn observe_digest(&mut self, now: Timestamp, digest: &Digest) -> Vec<Whom> {
        // Three passes, so that the memory reads of one pass do not wait on
        // one another (a large digest names peers all over the table): look
        // every id up, read every named peer's heartbeat, then act.
        let slots = self
            .peers
            .slots(digest.entries.iter().map(|entry| &entry.id));
        let whom: Vec<Whom> = digest
            .entries
            .iter()
            .zip(slots)
            .map(|(entry, slot)| match slot {
                Some(slot) => Whom::Peer(slot),
                None if entry.id == self.id => Whom::Local,
                None => Whom::Unknown,
            })
            .collect();
        let seen: Vec<u64> = whom
            .iter()
            .map(|named| match *named {
                Whom::Peer(slot) => self.peers.at(slot).1.heartbeat,
                Whom::Local | Whom::Unknown => u64::MAX,
            })
            .collect();
        for ((entry, named), seen) in digest.entries.iter().zip(&whom).zip(seen) {
            match *named {
                Whom::Peer(slot) if entry.heartbeat > seen => {
                    self.observe_heartbeat_at(now, slot, entry.heartbeat);
                }
                Whom::Unknown => self.want(now, &entry.id, entry.heartbeat),
                Whom::Peer(_) | Whom::Local => {}
            }
        }
        whom
    }

    /// Asks for the state of `id`, named in a digest with `heartbeat`, in
    /// our next digests, unless it may not be admitted.
    fn want(&mut self, now: Timestamp, id: &NodeId, heartbeat: u64) {
        if heartbeat > 0
            && !self.wanted.contains_key(id)
            && self.admissible(id, heartbeat)
            && self.peers.len() + self.wanted.len() < self.config.limits.max_nodes
        {
            self.wanted
                .insert(id.clone(), now + self.config.node_expiry);
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
                id: node.id.clone(),
                addr: node.addr,
                state: NodeState::default(),
                heartbeat: node.heartbeat,
                status: NodeStatus::Alive,
                since: now,
                changed: now,
                fresh: false,
                detector: PhiDetector::new(now, self.typical_interval()),
            };
            self.peers.insert(peer);
            self.check_by(self.peers.len() - 1);
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
                    if let Some(slot) = self.peers.slot(&node.id) {
                        let peer = self.peers.at_mut(slot);
                        peer.status = NodeStatus::Left;
                        peer.since = now;
                        self.check_by(slot);
                    }
                    Event::NodeLeft { id }
                }
            };
            self.emit(event);
        }
    }
}
