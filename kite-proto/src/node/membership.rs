//! What this node knows about other nodes, and how liveness evidence and
//! remote state are admitted.

use core::time::Duration;

use super::Node;
use super::peers::{Peer, Slot, Whom};
use crate::event::{Event, NodeStatus};
use crate::id::NodeId;
use crate::phi::PhiDetector;
use crate::state::{Change, NodeState};
use crate::time::{Millis, Timestamp};
use crate::wire::{Delta, Digest, NodeDelta, Rumor, RumorKind, UpdateKind, run_tag};

/// What a piece of gossip says of the run of a node it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Run {
    /// Its generation (a delta, a rumor).
    Generation(u64),
    /// Only its [`run_tag`] (a digest entry, a direct heartbeat).
    Tag(u16),
}

/// An expired node, remembered so stale gossip cannot bring it back.
pub(super) struct Forgotten {
    /// The run that was forgotten: a later one is a new node.
    pub(super) generation: u64,
    pub(super) heartbeat: u64,
    pub(super) left: bool,
    pub(super) until: Timestamp,
}

/// How many `node_expiry` periods an id that left is remembered after it was
/// last mentioned. Stale views of it (taken before it left, on the far side
/// of a partition) outlive the partition by a detection plus an expiry at
/// each holder; a left id must outlast them, or they would re-introduce it
/// as a join. A down id needs no such margin: it comes back only on a newer
/// heartbeat than it was forgotten with.
const LEFT_MEMORY: u32 = 3;

impl Forgotten {
    /// How long after `now` an id is remembered.
    pub(super) fn memory(left: bool, node_expiry: Duration) -> Duration {
        if left {
            node_expiry * LEFT_MEMORY
        } else {
            node_expiry
        }
    }
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

    /// Whether a node we do not track may be (re)admitted on evidence of
    /// its run `generation` at `heartbeat` seen at `now`: always a later run
    /// than the one forgotten; of the same run, never one that left, and an
    /// expired one only on a heartbeat newer than any it had when it was
    /// forgotten. A forgotten id that may not come back is remembered for
    /// another while (see [`Forgotten::memory`]) from `now`: it stays
    /// forgotten for as long as anyone still gossips about it, however long
    /// after its expiry.
    ///
    /// With only a run's tag, another tag may be a later run: the id is
    /// asked for, and its delta (with the whole generation) decides.
    pub(super) fn admissible(
        &mut self,
        now: Timestamp,
        id: &NodeId,
        run: Run,
        heartbeat: u64,
    ) -> bool {
        let expiry = self.config.node_expiry;
        let Some(f) = self.forgotten.get_mut(id) else {
            return true;
        };
        let (later, same) = match run {
            Run::Generation(g) => (g > f.generation, g == f.generation),
            Run::Tag(tag) => {
                let same = tag == run_tag(f.generation);
                (!same, same)
            }
        };
        if later || (same && !f.left && heartbeat > f.heartbeat) {
            return true;
        }
        f.until = f.until.max(now + Forgotten::memory(f.left, expiry));
        if !same {
            // An earlier run: not asked for again.
            self.stats.stale_generation += 1;
            self.wanted.remove(id);
        }
        false
    }

    /// Compares gossip about run `generation` of the peer in `slot` with
    /// the run we know: `None` for an earlier run (ignored and counted),
    /// else whether it was a later run, which then replaced ours.
    pub(super) fn meet(&mut self, now: Timestamp, slot: Slot, generation: u64) -> Option<bool> {
        let known = self.peers.at(slot).1.generation;
        if generation < known {
            self.stats.stale_generation += 1;
            return None;
        }
        if generation > known {
            self.renew(now, slot, generation);
        }
        Some(generation > known)
    }

    /// A later run of the peer in `slot` exists: the earlier run's keys are
    /// deleted, its heartbeat, versions, detector and suspicions start
    /// over, and an id that was down or had left is back.
    fn renew(&mut self, now: Timestamp, slot: Slot, generation: u64) {
        let prior = self.typical_interval();
        let peer = self.peers.at_mut(slot);
        let old = core::mem::take(&mut peer.state);
        let was = peer.status;
        peer.generation = generation;
        peer.heartbeat = 0;
        peer.fresh = false;
        peer.detector = PhiDetector::new(now, prior);
        let id = peer.id.clone();
        let addr = self.peers.addr(slot);
        self.peers.set_status(slot, NodeStatus::Alive, now);
        self.state_advanced(slot, now);
        self.forget_monitoring(&id);
        self.check_by(slot, now);
        if was != NodeStatus::Alive {
            self.ring_changed(&id);
        }
        for (key, value) in old.live() {
            self.emit(Event::KeyDeleted {
                id: id.clone(),
                key: key.to_owned(),
                value: value.to_owned(),
            });
        }
        match was {
            NodeStatus::Alive => {}
            NodeStatus::Down => self.emit(Event::NodeUp { id }),
            NodeStatus::Left => self.emit(Event::NodeJoined { id, addr }),
        }
    }

    /// The state of the peer in `slot` advanced at `now`: news for digests.
    fn state_advanced(&mut self, slot: Slot, now: Timestamp) {
        self.peers.info_mut(slot).changed = Millis::of(now);
        self.recent.changed(slot, now);
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
        if heartbeat <= self.peers.at(slot).1.heartbeat {
            return;
        }
        let id = self.peers.at(slot).0.clone();
        // Evidence still within the life the monitors convicted (relayed
        // late) does not bring a node back up.
        let convicted = self.clear_suspicions(&id, heartbeat);
        let peer = self.peers.at_mut(slot);
        peer.heartbeat = heartbeat;
        peer.fresh = true;
        match peer.status {
            NodeStatus::Alive => {
                if let Some(interval) = peer.detector.record(now) {
                    self.arrivals.add(interval);
                    self.recent.heard(slot, heartbeat);
                }
            }
            NodeStatus::Down if convicted => {}
            NodeStatus::Down => {
                peer.detector = PhiDetector::new(now, prior);
                self.peers.set_status(slot, NodeStatus::Alive, now);
                self.ring_changed(&id);
                // Tell everyone, so a node wrongly held down (after a pause
                // or a partition) is up again everywhere in a few rounds.
                let generation = self.peers.at(slot).1.generation;
                self.spread(Rumor {
                    id: id.clone(),
                    generation,
                    heartbeat,
                    kind: RumorKind::Alive,
                });
                self.emit(Event::NodeUp { id });
            }
            NodeStatus::Left => {}
        }
        self.check_by(slot, now);
    }

    /// A message from `id` itself arrived. Whatever it carried, the node was
    /// alive to send it: fresh evidence, enough to introduce it to others
    /// (its failure detector still runs on heartbeats alone).
    pub(super) fn heard_from(&mut self, id: &NodeId) {
        if let Some(peer) = self.peers.get_mut(id) {
            peer.fresh = true;
        }
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
        // In passes, so that the memory reads of one pass do not wait on
        // one another (a large digest names peers all over the table): look
        // every id up, compare every named peer's run and heartbeat (which
        // brings its cache line, detector included, in), then act.
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
        // Whether each entry is newer evidence of the run we hold. The
        // heartbeat of another run is no evidence for ours (the exchange
        // swaps the runs' states, which settle it).
        let advanced: Vec<bool> = digest
            .entries
            .iter()
            .zip(&whom)
            .map(|(entry, named)| match *named {
                Whom::Peer(slot) => {
                    let peer = self.peers.at(slot).1;
                    entry.run == run_tag(peer.generation) && entry.heartbeat > peer.heartbeat
                }
                Whom::Local | Whom::Unknown => false,
            })
            .collect();
        for ((entry, named), advanced) in digest.entries.iter().zip(&whom).zip(advanced) {
            match *named {
                Whom::Peer(slot) if advanced => {
                    self.observe_heartbeat_at(now, slot, entry.heartbeat);
                }
                Whom::Unknown => {
                    self.want(now, &entry.id, Run::Tag(entry.run), entry.heartbeat);
                }
                Whom::Peer(_) | Whom::Local => {}
            }
        }
        whom
    }

    /// Asks for the state of `id`, named (with its `run`) in a digest or a
    /// heartbeat at `heartbeat`, in our next digests, unless it may not be
    /// admitted.
    pub(super) fn want(&mut self, now: Timestamp, id: &NodeId, run: Run, heartbeat: u64) {
        if heartbeat > 0
            && !self.wanted.contains_key(id)
            && self.admissible(now, id, run, heartbeat)
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
        self.outdated.clear();
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
                && self.admissible(
                    now,
                    &node.id,
                    Run::Generation(node.generation),
                    node.heartbeat,
                )
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
                    generation: node.generation,
                    heartbeat: node.heartbeat,
                    left: true,
                    until: now + Forgotten::memory(true, self.config.node_expiry),
                };
                self.remember(node.id, forgotten, false);
                return;
            }
            self.forgotten.remove(&node.id);
            self.wanted.remove(&node.id);
            let peer = Peer {
                id: node.id.clone(),
                generation: node.generation,
                state: NodeState::default(),
                heartbeat: node.heartbeat,
                status: NodeStatus::Alive,
                fresh: false,
                detector: PhiDetector::new(now, self.typical_interval()),
            };
            self.peers.insert(peer, node.addr, now);
            self.sync.grew();
            let slot = self.peers.len() - 1;
            self.state_advanced(slot, now);
            self.check_by(slot, now);
            self.ring_changed(&node.id);
            self.emit(Event::NodeJoined {
                id: node.id.clone(),
                addr: node.addr,
            });
        } else if let Some(slot) = self.peers.slot(&node.id) {
            let Some(renewed) = self.meet(now, slot, node.generation) else {
                // The sender holds an earlier run than ours: it gets ours.
                self.outdated.push(node.id);
                return;
            };
            if renewed {
                // The later run may live elsewhere (a pod's new address).
                self.peers.set_addr(slot, node.addr);
                if node.from_version > 0 {
                    // Its updates that do not start at its first version
                    // are left for anti-entropy, which asks for them all:
                    // not a refusal.
                    return;
                }
            }
            self.observe_heartbeat_at(now, slot, node.heartbeat);
        }
        let limits = &self.config.limits;
        let Some(slot) = self.peers.slot(&node.id) else {
            return;
        };
        let peer = self.peers.at_mut(slot);
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
            self.state_advanced(slot, now);
        }
        self.stats.dropped_updates += refused as u64;
        for change in changes {
            let id = node.id.clone();
            let event = match change {
                Change::Upserted { key, value } => Event::KeyUpserted { id, key, value },
                Change::Deleted { key, value } => Event::KeyDeleted { id, key, value },
                Change::Left => {
                    self.peers.set_status(slot, NodeStatus::Left, now);
                    self.check_by(slot, now);
                    self.ring_changed(&node.id);
                    Event::NodeLeft { id }
                }
            };
            self.emit(event);
        }
    }
}
