//! Fast failure detection whose speed does not depend on the cluster size.
//!
//! Every node sends a direct heartbeat ([`Message::Liveness`]) each round to
//! its monitors: the [`MONITORS`] alive nodes that follow it on a ring
//! ordered by a fixed hash of the ids, so every node is watched by a few
//! others whatever N is. A monitor runs a [`DirectDetector`] on those
//! heartbeats; when it fires (and no gossip brought newer evidence either)
//! the monitor spreads a suspicion as a rumor. A node is down everywhere
//! once [`Node::quorum`] distinct monitors suspect it, so one or a few
//! observers that cannot hear a live node never convict it; and a suspected
//! node that hears the rumor refutes it with a newer heartbeat, spread the
//! same way. Every node still runs its own gossip-fed detector as well, the
//! slower path for whatever the monitors miss.

use std::collections::BTreeMap;

use super::Node;
use super::hasher::SipKey;
use super::membership::Run;
use super::rumors::RumorQueue;
use crate::direct::DirectDetector;
use crate::event::{Event, NodeStatus};
use crate::id::NodeId;
use crate::time::Timestamp;
use crate::wire::size::MAX_VARINT_LEN;
use crate::wire::{Message, NodeDelta, Rumor, RumorKind, run_tag};

/// How many monitors watch each node.
pub(crate) const MONITORS: usize = 5;

/// Most nodes watched at once. A node is the monitor of about
/// [`MONITORS`] others; more come only from views that disagree for a
/// while, or from forged heartbeats, which must not grow the map.
const MAX_WATCHED: usize = 16 * MONITORS;

/// For how many gossip intervals after its last heartbeat a node we watch
/// but do not know yet stays watched: its gossip reaches us within a few
/// rounds (news spreads in about log N), so a node that crashed just after
/// joining is suspected as soon as we learn of it.
const UNKNOWN_ROUNDS: u32 = 20;

/// A suspicion is about the same life of a node as evidence up to this many
/// heartbeats newer: a monitor suspects only after several rounds of
/// silence, so a live node is further ahead by then.
const SAME_LIFE: u64 = 2;

/// What this node keeps for fast failure detection.
#[derive(Debug, Default)]
pub(super) struct Monitoring {
    /// The nodes watching this one (its ring successors), as last chosen.
    successors: Vec<NodeId>,
    /// Whether `successors` must be chosen again (a peer changed status).
    stale: bool,
    /// Nodes that told us we watch them, also those we do not know yet (a
    /// node that just joined heartbeats its monitors before its gossip
    /// reaches them; if it crashes then, they are all it has).
    watched: BTreeMap<NodeId, Watched>,
    /// Suspicions heard, per suspected node.
    suspicions: BTreeMap<NodeId, Suspicion>,
    pub(super) rumors: RumorQueue,
    /// Recent small updates to push.
    news: RumorQueue<NodeDelta>,
}

#[derive(Debug)]
struct Watched {
    detector: DirectDetector,
    /// The [`run_tag`] of the run heard from.
    run: u16,
    /// Its last direct heartbeat: gossip that brings a newer one vouches
    /// for it (then it is not suspected).
    heartbeat: u64,
    /// We spread a suspicion and have not heard from it since.
    suspected: bool,
}

/// The monitors that suspect a node, and the newest heartbeat they refer to.
#[derive(Debug)]
struct Suspicion {
    heartbeat: u64,
    by: Vec<NodeId>,
}

/// A node's place on the monitoring ring: the same for every node.
pub(super) fn ring(id: &NodeId) -> u64 {
    SipKey::default().hash_id(id)
}

impl Node {
    /// The peer `id` joined, left, failed, came back or was forgotten: the
    /// monitors are chosen again before the next heartbeats if that can
    /// change them (an alive node nearer on the ring than the farthest
    /// monitor, or a monitor that is no longer alive). Choosing scans every
    /// peer, so it is not redone for every node a large cluster admits.
    pub(super) fn ring_changed(&mut self, id: &NodeId) {
        if self.monitoring.stale {
            return;
        }
        let alive = self
            .peers
            .get(id)
            .is_some_and(|peer| peer.status == NodeStatus::Alive);
        let successors = &self.monitoring.successors;
        self.monitoring.stale = if alive {
            let me = ring(&self.id);
            let distance = |id: &NodeId| ring(id).wrapping_sub(me);
            successors.len() < MONITORS
                || successors
                    .last()
                    .is_none_or(|farthest| distance(id) < distance(farthest))
        } else {
            successors.contains(id)
        };
    }

    /// How many distinct monitors must suspect a node for a verdict: all
    /// but one of the monitors a node has (all of them when it has two or
    /// fewer).
    pub(super) fn quorum(&self) -> usize {
        let monitors = MONITORS.min(self.peers.len()).max(1);
        if monitors <= 2 {
            monitors
        } else {
            monitors - 1
        }
    }

    /// The round's direct heartbeats: to every monitor, a release to every
    /// node no longer one, and the rumors to a random peer too.
    pub(super) fn send_heartbeats(&mut self) {
        let released = self.choose_monitors();
        let mut targets: Vec<(NodeId, bool)> = self
            .monitoring
            .successors
            .iter()
            .map(|id| (id.clone(), true))
            .collect();
        targets.extend(released.into_iter().map(|id| (id, false)));
        if !self.monitoring.rumors.is_empty() || !self.monitoring.news.is_empty() {
            for slot in self.peers.sample_alive(&mut *self.rng, 1) {
                let id = self.peers.at(slot).0;
                if !targets.iter().any(|(t, _)| t == id) {
                    targets.push((id.clone(), false));
                }
            }
        }
        self.send_liveness(targets, true);
    }

    /// A direct heartbeat to each of `targets` (`true`: it is one of our
    /// monitors; `false`: it is not, or no longer), carrying queued rumors
    /// and news if `carry`.
    fn send_liveness(&mut self, targets: Vec<(NodeId, bool)>, carry: bool) {
        let room = self.datagram_room() - MAX_VARINT_LEN - 1;
        for (id, monitor) in targets {
            let Some(addr) = self.peers.slot(&id).map(|slot| self.peers.addr(slot)) else {
                continue;
            };
            let (rumors, news) = if carry {
                let rumors = self.monitoring.rumors.take(room);
                let used: usize = rumors.iter().map(super::rumors::wire_len).sum();
                (rumors, self.monitoring.news.take(room - used))
            } else {
                (Vec::new(), Vec::new())
            };
            let msg = Message::Liveness {
                from: self.id.clone(),
                run: run_tag(self.config.generation),
                heartbeat: self.heartbeat,
                monitor,
                rumors,
                news,
            };
            self.transmit(addr, &msg);
        }
    }

    /// After an input that changed our view: monitors chosen anew hear from
    /// us at once (and former ones are released), so they watch us from
    /// now rather than from our next round. While a cluster forms, a node
    /// that crashed between learning its peers and its next round was
    /// otherwise watched by fewer monitors than a verdict needs.
    pub(super) fn greet_new_monitors(&mut self) {
        if !self.monitoring.stale || self.local.is_left() {
            return;
        }
        let before = self.monitoring.successors.clone();
        let released = self.choose_monitors();
        let greeted: Vec<(NodeId, bool)> = self
            .monitoring
            .successors
            .iter()
            .filter(|id| !before.contains(id))
            .map(|id| (id.clone(), true))
            .chain(released.into_iter().map(|id| (id, false)))
            .collect();
        self.send_liveness(greeted, false);
    }

    /// Chooses the monitors again if a peer changed; returns the former ones
    /// to release.
    fn choose_monitors(&mut self) -> Vec<NodeId> {
        if !self.monitoring.stale {
            return Vec::new();
        }
        self.monitoring.stale = false;
        let me = ring(&self.id);
        let mut nearest: Vec<(u64, &NodeId)> = Vec::with_capacity(MONITORS + 1);
        for (id, peer) in self.peers.iter() {
            if peer.status != NodeStatus::Alive {
                continue;
            }
            let distance = ring(id).wrapping_sub(me);
            if nearest.len() < MONITORS || distance < nearest[MONITORS - 1].0 {
                let at = nearest.partition_point(|(d, _)| *d < distance);
                nearest.insert(at, (distance, id));
                nearest.truncate(MONITORS);
            }
        }
        let chosen: Vec<NodeId> = nearest.into_iter().map(|(_, id)| id.clone()).collect();
        let released = self
            .monitoring
            .successors
            .iter()
            .filter(|id| !chosen.contains(id))
            .cloned()
            .collect();
        self.monitoring.successors = chosen;
        released
    }

    /// A direct heartbeat ([`Message::Liveness`]) arrived; any other message
    /// is ignored.
    pub(super) fn on_liveness(&mut self, now: Timestamp, liveness: Message) {
        let Message::Liveness {
            from,
            run,
            heartbeat,
            monitor,
            rumors,
            news,
        } = liveness
        else {
            return;
        };
        if let Some(slot) = self.peers.slot(&from) {
            // A heartbeat of another run says nothing of this one (a late
            // one of an earlier run, or the first of a later run, which its
            // gossip brings); its rumors and news, each about a run, count.
            if run_tag(self.peers.at(slot).1.generation) == run {
                // A node's own heartbeat is never far below what is known
                // of its run (it refutes above any suspicion): one that is
                // was learned from another run sharing the tag. The node
                // itself is right.
                let peer = self.peers.at_mut(slot);
                if heartbeat.saturating_add(SAME_LIFE) < peer.heartbeat {
                    peer.heartbeat = heartbeat.saturating_sub(1);
                }
                self.observe_heartbeat(now, &from, heartbeat);
                self.watch(now, from, run, heartbeat, monitor);
            }
        } else {
            self.want(now, &from, Run::Tag(run), heartbeat);
            self.watch(now, from, run, heartbeat, monitor);
        }
        for rumor in rumors {
            self.on_rumor(now, rumor);
        }
        for node in news {
            self.on_news(now, node);
        }
    }

    /// Records a direct heartbeat of `from` if it asks us to watch it, or
    /// stops watching it if it released us.
    fn watch(&mut self, now: Timestamp, from: NodeId, run: u16, heartbeat: u64, monitor: bool) {
        if !monitor {
            self.monitoring.watched.remove(&from);
            return;
        }
        if self.monitoring.watched.len() >= MAX_WATCHED
            && !self.monitoring.watched.contains_key(&from)
        {
            // Full: a known node takes the place of one we do not know (a
            // flood of made-up ids cannot keep members unwatched).
            let peers = &self.peers;
            let unknown = self
                .monitoring
                .watched
                .keys()
                .find(|id| peers.get(id).is_none())
                .cloned();
            match unknown {
                Some(id) if peers.get(&from).is_some() => {
                    self.monitoring.watched.remove(&id);
                }
                _ => return,
            }
        }
        let watched = &mut self.monitoring.watched;
        let interval = self.config.gossip_interval;
        let entry = watched.entry(from).or_insert(Watched {
            detector: DirectDetector::new(now, interval),
            run,
            heartbeat,
            suspected: false,
        });
        if entry.run != run {
            entry.detector = DirectDetector::new(now, interval);
            entry.run = run;
        }
        entry.detector.record(now);
        entry.heartbeat = entry.heartbeat.max(heartbeat);
        entry.suspected = false;
    }

    /// Applies a pushed update that continues what we hold of its node, and
    /// passes it on; anything else is left to anti-entropy.
    fn on_news(&mut self, now: Timestamp, mut node: NodeDelta) {
        let Some(slot) = self.peers.slot(&node.id) else {
            // A node's whole state from its first version: a joiner's
            // announcement (see `announce_join`), admitted as a delta would be.
            if node.from_version == 0 && node.id != self.id {
                let id = node.id.clone();
                self.apply_delta(
                    now,
                    crate::wire::Delta {
                        nodes: vec![node.clone()],
                    },
                );
                if self.peers.slot(&id).is_some() {
                    self.push_news(node);
                }
            }
            return;
        };
        match self.meet(now, slot, node.generation) {
            None => return,
            // The later run may live elsewhere (a pod's new address).
            Some(true) => self.peers.set_addr(slot, node.addr),
            Some(false) => {}
        }
        let held = self.peers.at(slot).1.state.version();
        node.updates.retain(|update| update.version > held);
        if node.updates.is_empty() || node.from_version > held {
            return;
        }
        node.from_version = held;
        self.apply_delta(
            now,
            crate::wire::Delta {
                nodes: vec![node.clone()],
            },
        );
        self.push_news(node);
    }

    /// Announces a node that just joined: its state (or only its identity,
    /// if the state is large) rides on its heartbeats as news, so its
    /// monitors know it at its first heartbeat and every node within about
    /// log N rounds, even if it crashes at once; then the heartbeats go out
    /// without waiting for the next round.
    pub(super) fn announce_join(&mut self, mut own: NodeDelta) {
        if crate::wire::size::node_delta_len(&own) > self.config.max_packet_size / 4 {
            own.updates.clear();
        }
        self.push_news(own);
        self.send_heartbeats();
    }

    /// Queues a small update to push, if it is small (a large value spreads
    /// by anti-entropy and streams only).
    pub(super) fn push_news(&mut self, node: NodeDelta) {
        if crate::wire::size::node_delta_len(&node) <= self.config.max_packet_size / 4 {
            let nodes = self.peers.len() + 1;
            self.monitoring.news.push(node, nodes);
        }
    }

    fn on_rumor(&mut self, now: Timestamp, rumor: Rumor) {
        if rumor.id == self.id {
            // A suspicion of a heartbeat we never had is forged: refuting
            // it would let anyone push our heartbeat to its end. One of an
            // earlier run of our id is void already.
            let ours = rumor.generation == self.config.generation;
            if let (RumorKind::Suspect { .. }, true, true) =
                (&rumor.kind, ours, rumor.heartbeat <= self.heartbeat)
            {
                // Refute with a heartbeat no suspicion of this life reaches.
                self.heartbeat = self
                    .heartbeat
                    .max(rumor.heartbeat.saturating_add(SAME_LIFE + 1));
                self.spread(Rumor {
                    id: self.id.clone(),
                    generation: self.config.generation,
                    heartbeat: self.heartbeat,
                    kind: RumorKind::Alive,
                });
            }
            return;
        }
        let Some(slot) = self.peers.slot(&rumor.id) else {
            return;
        };
        let generation = self.peers.at(slot).1.generation;
        match rumor.kind {
            // Only a run's own heartbeats prove it alive; a suspicion is
            // about one run, and void for any other.
            RumorKind::Suspect { .. } if rumor.generation != generation => {
                if rumor.generation < generation {
                    self.stats.stale_generation += 1;
                }
                return;
            }
            RumorKind::Alive if self.meet(now, slot, rumor.generation).is_none() => return,
            _ => {}
        }
        let known = self.peers.at(slot).1.heartbeat;
        match rumor.kind.clone() {
            RumorKind::Alive => {
                if rumor.heartbeat > known {
                    self.observe_heartbeat(now, &rumor.id, rumor.heartbeat);
                    self.spread(rumor);
                }
            }
            RumorKind::Suspect { by } => {
                if known > rumor.heartbeat.saturating_add(SAME_LIFE) {
                    return;
                }
                let suspicion = self
                    .monitoring
                    .suspicions
                    .entry(rumor.id.clone())
                    .or_insert(Suspicion {
                        heartbeat: 0,
                        by: Vec::new(),
                    });
                if suspicion.by.contains(&by) || suspicion.by.len() >= MONITORS * 2 {
                    return;
                }
                suspicion.by.push(by);
                suspicion.heartbeat = suspicion.heartbeat.max(rumor.heartbeat);
                let count = suspicion.by.len();
                let id = rumor.id.clone();
                self.spread(rumor);
                if count >= self.quorum() {
                    self.convict(now, &id);
                }
            }
        }
    }

    /// Marks a node down on the monitors' verdict.
    fn convict(&mut self, now: Timestamp, id: &NodeId) {
        let Some(slot) = self.peers.slot(id) else {
            return;
        };
        if self.peers.at(slot).1.status != NodeStatus::Alive {
            return;
        }
        self.peers.set_status(slot, NodeStatus::Down, now);
        self.check_by(slot, now);
        self.ring_changed(id);
        self.emit(Event::NodeDown { id: id.clone() });
    }

    /// Queues a rumor for the next heartbeats.
    pub(super) fn spread(&mut self, rumor: Rumor) {
        let nodes = self.peers.len() + 1;
        self.monitoring.rumors.push(rumor, nodes);
    }

    /// Fresh evidence of `id` at `heartbeat`: suspicions of an earlier life
    /// are void. Returns whether a verdict of this life still stands (then
    /// the evidence does not bring the node back up).
    pub(super) fn clear_suspicions(&mut self, id: &NodeId, heartbeat: u64) -> bool {
        match self.monitoring.suspicions.get(id) {
            Some(s) if heartbeat > s.heartbeat.saturating_add(SAME_LIFE) => {
                self.monitoring.suspicions.remove(id);
                false
            }
            Some(s) => s.by.len() >= self.quorum(),
            None => false,
        }
    }

    /// Suspects the watched nodes whose direct heartbeats stopped (and of
    /// which no newer evidence arrived by gossip either).
    pub(super) fn check_watched(&mut self, now: Timestamp) {
        let threshold = self.config.suspicion_threshold;
        let unknown_for = self.config.gossip_interval * UNKNOWN_ROUNDS;
        let mut suspects = Vec::new();
        let peers = &self.peers;
        self.monitoring.watched.retain(|id, watched| {
            let Some(peer) = peers.get(id) else {
                // Not known yet: its gossip may still be on the way. Kept
                // for a while after its last heartbeat, to be suspected
                // once it is known if it stayed silent.
                return now.saturating_since(watched.detector.last()) < unknown_for;
            };
            if !watched.suspected
                && peer.status == NodeStatus::Alive
                && run_tag(peer.generation) == watched.run
                && peer.heartbeat <= watched.heartbeat
                && watched.detector.phi(now) > threshold
            {
                watched.suspected = true;
                suspects.push((id.clone(), peer.generation, peer.heartbeat));
            }
            peer.status != NodeStatus::Left
        });
        for (id, generation, heartbeat) in suspects {
            let rumor = Rumor {
                id,
                generation,
                heartbeat,
                kind: RumorKind::Suspect {
                    by: self.id.clone(),
                },
            };
            self.on_rumor(now, rumor);
        }
    }

    /// Forgives the watched nodes a gap that was our own stall.
    pub(super) fn forgive_watched(&mut self, late: core::time::Duration, now: Timestamp) {
        for watched in self.monitoring.watched.values_mut() {
            watched.detector.forgive(late, now);
        }
    }

    /// Forgets what monitoring kept of a node that is gone.
    pub(super) fn forget_monitoring(&mut self, id: &NodeId) {
        self.monitoring.watched.remove(id);
        self.monitoring.suspicions.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Delta, encode};
    use crate::{Config, SeededRng};
    use core::net::SocketAddr;

    fn node() -> Node {
        let mut c = Config::new("127.0.0.1:7000".parse().unwrap());
        c.node_id = Some(NodeId::new("me").unwrap());
        Node::new(c, SeededRng::from_seed_u64(1), Timestamp::ZERO).unwrap()
    }

    fn heartbeat(from: &NodeId, news: Vec<NodeDelta>) -> Vec<u8> {
        encode(&Message::Liveness {
            from: from.clone(),
            run: run_tag(7),
            heartbeat: 1,
            monitor: true,
            rumors: Vec::new(),
            news,
        })
    }

    fn identity(id: &NodeId, addr: SocketAddr) -> NodeDelta {
        NodeDelta {
            id: id.clone(),
            generation: 7,
            addr,
            heartbeat: 1,
            from_version: 0,
            updates: Vec::new(),
        }
    }

    #[test]
    fn made_up_ids_fill_the_watch_list_only_to_its_bound_and_members_still_get_in() {
        let mut node = node();
        let at: SocketAddr = "127.0.0.9:7000".parse().unwrap();
        for i in 0..1000 {
            let made_up = NodeId::new(format!("ghost-{i}")).unwrap();
            node.handle_datagram(Timestamp::ZERO, at, &heartbeat(&made_up, Vec::new()));
        }
        assert_eq!(node.monitoring.watched.len(), MAX_WATCHED);
        // A member (known: its state arrived) asking to be watched is.
        let member = NodeId::new("member").unwrap();
        node.apply_delta(
            Timestamp::ZERO,
            Delta {
                nodes: vec![identity(&member, at)],
            },
        );
        node.handle_datagram(Timestamp::ZERO, at, &heartbeat(&member, Vec::new()));
        assert_eq!(node.monitoring.watched.len(), MAX_WATCHED);
        assert!(node.monitoring.watched.contains_key(&member));
    }

    #[test]
    fn a_joiners_announcement_admits_it_and_its_first_heartbeat_is_watched() {
        let mut node = node();
        let joiner = NodeId::new("joiner").unwrap();
        let at: SocketAddr = "127.0.0.9:7000".parse().unwrap();
        let announced = heartbeat(&joiner, vec![identity(&joiner, at)]);
        node.handle_datagram(Timestamp::ZERO, at, &announced);
        assert!(node.peers.get(&joiner).is_some(), "admitted from its news");
        assert!(node.monitoring.watched.contains_key(&joiner));
        // Silent from then on: suspected once the detector fires.
        let later = Timestamp::ZERO + node.config.gossip_interval * 6;
        node.check_watched(later);
        assert!(node.monitoring.watched[&joiner].suspected);
    }
}
