//! Stream exchanges owned by the core: join, leave and state pushes.

use core::net::{IpAddr, SocketAddr};
use std::collections::{BTreeMap, BTreeSet};

use super::Node;
use crate::config::LEAVE_FANOUT;
use crate::error::{JoinError, JoinFailure, LeaveError, ResolveError, StreamError};
use crate::event::{Event, JoinId, NodeStatus};
use crate::id::NodeId;
use crate::output::RequestId;
use crate::rng;
use crate::target::{self, Target};
use crate::time::Timestamp;
use crate::wire::size::MAX_COUNT_LEN;
use crate::wire::{Delta, Message, NodeDelta};

use super::exchange::Introduce;

/// For how many gossip intervals after learning a live node we still tell a
/// joiner of it without fresh evidence (a newer heartbeat, or a message from
/// the node itself). Long enough for a node that has only just joined to
/// pass on everything its own join brought (that evidence comes within a
/// round or two); too short for the stale state of a dead node to hop from
/// newcomer to newcomer (DESIGN §8), which needs newcomers joining through
/// one another this fast.
const JOIN_GRACE_ROUNDS: u32 = 2;

/// A stream request in flight.
pub(super) enum Pending {
    Join {
        join: JoinId,
        target: String,
    },
    Push {
        to: SocketAddr,
    },
    Leave,
    /// A full sync (see `sync.rs`).
    Sync,
}

/// A `join` whose targets are not all done.
pub(super) struct PendingJoin {
    /// The targets: seeds and watched names once the join succeeds.
    targets: Vec<Target>,
    /// Names still resolving, with the ports to contact them at.
    resolving: BTreeMap<String, BTreeSet<u16>>,
    requests: BTreeSet<RequestId>,
    /// Targets that failed before the join completed.
    failures: Vec<JoinFailure>,
    /// `JoinCompleted` was emitted; each later outcome is a
    /// `JoinTargetCompleted`.
    completed: bool,
}

impl PendingJoin {
    /// Whether it was given the name `name`.
    pub(super) fn names(&self, name: &str) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t, Target::Name { host, .. } if host == name))
    }

    /// `name` resolved: the ports to contact its addresses at, if this join
    /// was waiting for it.
    pub(super) fn resolved(&mut self, name: &str) -> Option<BTreeSet<u16>> {
        self.resolving.remove(name)
    }

    fn done(&self) -> bool {
        self.resolving.is_empty() && self.requests.is_empty()
    }
}

pub(super) struct PendingLeave {
    outstanding: usize,
    acked: usize,
    tried: usize,
}

impl Node {
    pub(super) fn start_join<S: AsRef<str>>(
        &mut self,
        now: Timestamp,
        targets: &[S],
    ) -> Result<JoinId, JoinError> {
        if self.local.is_left() {
            return Err(JoinError::Left);
        }
        let port = self.config.advertise_addr.port();
        let parsed = targets
            .iter()
            .map(|t| target::parse(t.as_ref(), port))
            .collect::<Result<Vec<_>, _>>()?;
        let join = JoinId(self.next_join);
        self.next_join += 1;
        let me = self.config.advertise_addr;
        let mut pending = PendingJoin {
            targets: parsed,
            resolving: BTreeMap::new(),
            requests: BTreeSet::new(),
            failures: Vec::new(),
            completed: false,
        };
        for target in &pending.targets {
            if let Target::Name { host, port } = target {
                pending
                    .resolving
                    .entry(host.clone())
                    .or_default()
                    .insert(*port);
            }
        }
        let targets = pending.targets.clone();
        self.joins.insert(join, pending);
        for target in targets {
            match target {
                Target::Addr(addr) if addr != me => {
                    self.join_request(join, addr, addr.to_string());
                }
                Target::Addr(_) => {}
                Target::Name { host, .. } => self.resolve_for_join(now, &host),
            }
        }
        self.finish_join_if_done(join);
        Ok(join)
    }

    /// How long after admitting a live node a joiner is told of it without
    /// fresh evidence (see [`JOIN_GRACE_ROUNDS`]).
    fn join_grace(&self) -> core::time::Duration {
        self.config.gossip_interval * JOIN_GRACE_ROUNDS
    }

    /// Sends our whole state and digest to `to`, which answers with what we lack.
    fn join_request(&mut self, join: JoinId, to: SocketAddr, target: String) {
        let msg = self.whole_view();
        let id = self.request(to, &msg, Pending::Join { join, target });
        if let Some(pending) = self.joins.get_mut(&join) {
            pending.requests.insert(id);
        }
    }

    /// Our whole local state and our digest of every node, as far as a
    /// frame holds (all of `max_nodes` with the default limits): what a
    /// join, and a full sync, send.
    pub(super) fn whole_view(&mut self) -> Message {
        let room = self.frame_room() - 2 * MAX_COUNT_LEN - 1;
        let ours = self.own_delta();
        let digest = self.digest(room - wire_len_hint(&ours));
        Message::JoinRequest {
            from: self.id.clone(),
            delta: ours,
            digest,
        }
    }

    /// Our whole local state, which always fits a frame (see `Limits`).
    fn own_delta(&self) -> Delta {
        Delta {
            nodes: vec![NodeDelta {
                id: self.id.clone(),
                generation: self.config.generation,
                addr: self.config.advertise_addr,
                heartbeat: self.heartbeat,
                from_version: 0,
                updates: self
                    .local
                    .updates_since(0)
                    .map(|(v, u)| u.to_update(v))
                    .collect(),
            }],
        }
    }

    /// The addresses `name` resolved to (`result`) for `join`: contacts
    /// each at every port the join named it with, or records the failure.
    pub(super) fn join_resolved(
        &mut self,
        join: JoinId,
        name: &str,
        ports: &BTreeSet<u16>,
        result: &Result<Vec<IpAddr>, ResolveError>,
    ) {
        let me = self.config.advertise_addr;
        match result {
            Ok(ips) => {
                for ip in ips {
                    for port in ports {
                        let addr = SocketAddr::new(*ip, *port);
                        if addr != me {
                            self.join_request(join, addr, format!("{name}:{port} ({addr})"));
                        }
                    }
                }
            }
            Err(err) => self.target_done(join, name.to_owned(), Err(err.to_string())),
        }
        self.finish_join_if_done(join);
    }

    /// One target of `join` answered (with the id of the node that did)
    /// or failed. The first answer completes the join; after that, each
    /// outcome is reported on its own.
    fn target_done(&mut self, join: JoinId, target: String, outcome: Result<NodeId, String>) {
        let Some(pending) = self.joins.get_mut(&join) else {
            return;
        };
        // A name that resolved to ourselves is neither joined nor an error.
        if outcome.as_ref().is_ok_and(|from| *from == self.id) {
            return;
        }
        if pending.completed {
            self.emit(Event::JoinTargetCompleted {
                join,
                target,
                result: outcome,
            });
            return;
        }
        match outcome {
            Ok(from) => self.complete_join(join, Ok(vec![from])),
            Err(reason) => pending.failures.push(JoinFailure { target, reason }),
        }
    }

    /// Emits the outcome of `join`. A join that succeeded makes its targets
    /// seeds and its names watched, and reports the targets that failed
    /// before as `JoinTargetCompleted`; one that failed leaves nothing
    /// behind.
    fn complete_join(&mut self, join: JoinId, result: Result<Vec<NodeId>, JoinError>) {
        let Some(pending) = self.joins.get_mut(&join) else {
            return;
        };
        pending.completed = true;
        let failures = core::mem::take(&mut pending.failures);
        let targets = pending.targets.clone();
        let succeeded = result.is_ok();
        self.emit(Event::JoinCompleted { join, result });
        if succeeded {
            let me = self.config.advertise_addr;
            for target in targets {
                match target {
                    Target::Addr(addr) if addr != me => {
                        self.seeds.insert(addr);
                    }
                    Target::Addr(_) => {}
                    Target::Name { host, port } => self.watch_name(&host, port),
                }
            }
            for JoinFailure { target, reason } in failures {
                self.emit(Event::JoinTargetCompleted {
                    join,
                    target,
                    result: Err(reason),
                });
            }
            // Our monitors hear of us now, not a round later: a node that
            // crashes right after joining is then still convicted by them.
            let own = self.own_delta().nodes.swap_remove(0);
            self.announce_join(own);
        } else {
            self.joins.remove(&join);
            for target in targets {
                if let Target::Name { host, .. } = target {
                    self.unwatch_name(&host);
                }
            }
        }
    }

    /// Once no target of `join` is pending: completes it if no target
    /// answered (successfully only if none failed either: every target was
    /// ourselves), and forgets it.
    fn finish_join_if_done(&mut self, join: JoinId) {
        let Some(pending) = self.joins.get(&join) else {
            return;
        };
        if !pending.done() {
            return;
        }
        if !pending.completed {
            let result = match pending.failures.is_empty() {
                true => Ok(Vec::new()),
                false => Err(JoinError::NoneJoined {
                    failures: pending.failures.clone(),
                }),
            };
            self.complete_join(join, result);
        }
        self.joins.remove(&join);
    }

    pub(super) fn start_leave(&mut self, _now: Timestamp) -> Result<(), LeaveError> {
        if self.local.is_left() {
            return Err(LeaveError::AlreadyLeft);
        }
        self.local.mark_left();
        let alive: Vec<SocketAddr> = (0..self.peers.len())
            .filter(|&slot| self.peers.at(slot).1.status == NodeStatus::Alive)
            .map(|slot| self.peers.addr(slot))
            .collect();
        let targets = rng::sample(&mut *self.rng, &alive, LEAVE_FANOUT);
        if targets.is_empty() {
            // Nobody to tell is no failure: the node has left all the same.
            self.emit(Event::LeaveCompleted { result: Ok(0) });
            return Ok(());
        }
        let msg = Message::Push {
            from: self.id.clone(),
            delta: self.own_delta(),
        };
        for to in &targets {
            self.request(*to, &msg, Pending::Leave);
        }
        self.leave = Some(PendingLeave {
            outstanding: targets.len(),
            acked: 0,
            tried: targets.len(),
        });
        Ok(())
    }

    /// Serves one inbound stream request; `None` closes it without a reply.
    pub(super) fn on_request(
        &mut self,
        now: Timestamp,
        _from: SocketAddr,
        bytes: &[u8],
    ) -> Option<Vec<u8>> {
        let msg = self.receive(bytes).ok()?;
        if *msg.from() == self.id {
            self.stats.ignored_messages += 1;
            return None;
        }
        let reply = match msg {
            Message::JoinRequest {
                from,
                delta,
                digest,
            } => {
                self.apply_delta(now, delta);
                self.heard_from(&from);
                let whom = self.observe_digest(now, &digest);
                let room = self.frame_room() - MAX_COUNT_LEN;
                // The joiner is told every node we hold alive, including
                // those we learned only just now (see `Node::join`).
                let recent = Introduce::AdmittedWithin {
                    grace: self.join_grace(),
                    now,
                };
                let (delta, _, _) = self.delta_for(&digest, &whom, room, recent);
                Message::JoinResponse {
                    from: self.id.clone(),
                    delta,
                }
            }
            Message::Push { from, delta } => {
                self.apply_delta(now, delta);
                self.heard_from(&from);
                Message::Ack {
                    from: self.id.clone(),
                }
            }
            _ => {
                self.stats.ignored_messages += 1;
                return None;
            }
        };
        self.stats.messages_out.count(&reply);
        Some(self.seal(&reply))
    }

    pub(super) fn on_response(
        &mut self,
        now: Timestamp,
        id: RequestId,
        result: Result<&[u8], StreamError>,
    ) {
        let Some(pending) = self.requests.remove(&id) else {
            self.stats.ignored_messages += 1;
            return;
        };
        let reply = match result {
            Ok(bytes) => self.receive(bytes).map_err(|err| format!("reply {err}")),
            Err(err) => Err(err.to_string()),
        };
        if reply.is_err() {
            self.stats.stream_failures += 1;
        }
        match pending {
            Pending::Join { join, target } => {
                let outcome = match reply {
                    Ok(Message::JoinResponse { from, delta }) => {
                        self.apply_delta(now, delta);
                        self.heard_from(&from);
                        Ok(from)
                    }
                    Ok(_) => Err("unexpected reply".to_owned()),
                    Err(reason) => Err(reason),
                };
                if let Some(p) = self.joins.get_mut(&join) {
                    p.requests.remove(&id);
                }
                self.target_done(join, target, outcome);
                self.finish_join_if_done(join);
            }
            Pending::Push { to } => {
                self.pushes.remove(&to);
            }
            Pending::Sync => {
                self.sync.in_flight = false;
                if let Ok(Message::JoinResponse { from, delta }) = reply {
                    self.apply_delta(now, delta);
                    self.heard_from(&from);
                }
            }
            Pending::Leave => {
                let acked = matches!(reply, Ok(Message::Ack { .. }));
                let Some(leave) = self.leave.as_mut() else {
                    return;
                };
                leave.outstanding -= 1;
                leave.acked += usize::from(acked);
                if leave.outstanding == 0 {
                    let result = if leave.acked > 0 {
                        Ok(leave.acked)
                    } else {
                        Err(LeaveError::NoneNotified { tried: leave.tried })
                    };
                    self.leave = None;
                    self.emit(Event::LeaveCompleted { result });
                }
            }
        }
    }
}

/// Encoded length of a delta, for budgeting what goes beside it.
fn wire_len_hint(delta: &Delta) -> usize {
    postcard::experimental::serialized_size(delta).unwrap_or(usize::MAX / 2)
}
