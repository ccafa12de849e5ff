//! Stream exchanges owned by the core: join, leave and state pushes, and the
//! DNS resolution of joined names.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use super::Node;
use crate::config::LEAVE_FANOUT;
use crate::error::{JoinError, JoinFailure, LeaveError, ResolveError, StreamError};
use crate::event::{Event, JoinId, NodeStatus};
use crate::id::NodeId;
use crate::output::{Output, RequestId};
use crate::rng;
use crate::target::{self, Target};
use crate::time::Timestamp;
use crate::wire::size::MAX_COUNT_LEN;
use crate::wire::{self, Delta, Message, NodeDelta};

/// Most addresses taken from one DNS answer.
const MAX_ADDRS_PER_NAME: usize = 256;

/// A joined domain name.
pub(super) struct NameWatch {
    /// Ports it was joined with.
    ports: BTreeSet<u16>,
    /// What it last resolved to (with each port), ourselves excluded.
    pub(super) addrs: BTreeSet<SocketAddr>,
    next_resolve: Timestamp,
    /// When the pending resolution was asked for.
    in_flight: Option<Timestamp>,
}

impl NameWatch {
    /// When to resolve again: at `next_resolve`, or, if an answer is
    /// overdue, one refresh interval after asking.
    pub(super) fn deadline(&self, refresh: Duration) -> Timestamp {
        match self.in_flight {
            Some(asked) => asked + refresh,
            None => self.next_resolve,
        }
    }
}

/// A stream request in flight.
pub(super) enum Pending {
    Join { join: JoinId, target: String },
    Push { to: SocketAddr },
    Leave,
}

#[derive(Default)]
pub(super) struct PendingJoin {
    /// Names still resolving, with the ports to contact them at.
    names: BTreeMap<String, BTreeSet<u16>>,
    requests: BTreeSet<RequestId>,
    joined: Vec<NodeId>,
    failures: Vec<JoinFailure>,
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
        self.joins.insert(join, PendingJoin::default());
        for target in parsed {
            match target {
                Target::Addr(addr) => {
                    if addr != self.config.advertise_addr {
                        self.seeds.insert(addr);
                        self.join_request(join, addr, addr.to_string());
                    }
                }
                Target::Name { host, port } => {
                    if let Some(pending) = self.joins.get_mut(&join) {
                        pending.names.entry(host.clone()).or_default().insert(port);
                    }
                    let watch = self.names.entry(host.clone()).or_insert_with(|| NameWatch {
                        ports: BTreeSet::new(),
                        addrs: BTreeSet::new(),
                        next_resolve: now,
                        in_flight: None,
                    });
                    watch.ports.insert(port);
                    if watch.in_flight.is_none() {
                        watch.in_flight = Some(now);
                        self.outputs.push_back(Output::Resolve { name: host });
                    }
                }
            }
        }
        self.finish_join_if_done(join);
        Ok(join)
    }

    /// Sends our whole state and digest to `to`, which answers with what we lack.
    fn join_request(&mut self, join: JoinId, to: SocketAddr, target: String) {
        let room = self.frame_room() - 2 * MAX_COUNT_LEN - 1;
        let ours = self.own_delta();
        let digest = self.digest(room - wire_len_hint(&ours));
        let msg = Message::JoinRequest {
            from: self.id.clone(),
            delta: ours,
            digest,
        };
        let id = self.request(to, &msg, Pending::Join { join, target });
        if let Some(pending) = self.joins.get_mut(&join) {
            pending.requests.insert(id);
        }
    }

    /// Our whole local state, which always fits a frame (see `Limits`).
    fn own_delta(&self) -> Delta {
        Delta {
            nodes: vec![NodeDelta {
                id: self.id.clone(),
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

    fn finish_join_if_done(&mut self, join: JoinId) {
        let done = self
            .joins
            .get(&join)
            .is_some_and(|p| p.names.is_empty() && p.requests.is_empty());
        if !done {
            return;
        }
        let Some(pending) = self.joins.remove(&join) else {
            return;
        };
        let result = if !pending.joined.is_empty() || pending.failures.is_empty() {
            Ok(pending.joined)
        } else {
            Err(JoinError::NoneJoined {
                failures: pending.failures,
            })
        };
        self.emit(Event::JoinCompleted { join, result });
    }

    pub(super) fn start_leave(&mut self, _now: Timestamp) -> Result<(), LeaveError> {
        if self.local.is_left() {
            return Err(LeaveError::AlreadyLeft);
        }
        self.local.mark_left();
        let alive: Vec<SocketAddr> = self
            .peers
            .values()
            .filter(|p| p.status == NodeStatus::Alive)
            .map(|p| p.addr)
            .collect();
        let targets = rng::sample(&mut *self.rng, &alive, LEAVE_FANOUT);
        if targets.is_empty() {
            self.emit(Event::LeaveCompleted {
                result: Err(LeaveError::NoPeers),
            });
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
        let msg = self.decode(bytes)?;
        if *msg.from() == self.id {
            self.stats.ignored_messages += 1;
            return None;
        }
        let reply = match msg {
            Message::JoinRequest { delta, digest, .. } => {
                self.apply_delta(now, delta);
                let whom = self.observe_digest(now, &digest);
                let room = self.frame_room() - MAX_COUNT_LEN;
                let (delta, _, _) = self.delta_for(&digest, &whom, room);
                Message::JoinResponse {
                    from: self.id.clone(),
                    delta,
                }
            }
            Message::Push { delta, .. } => {
                self.apply_delta(now, delta);
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
        Some(wire::encode(&reply))
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
            Ok(bytes) => match self.decode(bytes) {
                Some(msg) => Ok(msg),
                None => Err("invalid reply".to_owned()),
            },
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
                        Ok(from)
                    }
                    Ok(_) => Err("unexpected reply".to_owned()),
                    Err(reason) => Err(reason),
                };
                let me = self.id.clone();
                if let Some(p) = self.joins.get_mut(&join) {
                    p.requests.remove(&id);
                    match outcome {
                        // A name that resolved to ourselves is not an error.
                        Ok(from) if from == me => {}
                        Ok(from) => {
                            if !p.joined.contains(&from) {
                                p.joined.push(from);
                            }
                        }
                        Err(reason) => p.failures.push(JoinFailure { target, reason }),
                    }
                }
                self.finish_join_if_done(join);
            }
            Pending::Push { to } => {
                self.pushes.remove(&to);
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

    pub(super) fn on_resolved(
        &mut self,
        now: Timestamp,
        name: &str,
        result: Result<Vec<IpAddr>, ResolveError>,
    ) {
        let me = self.config.advertise_addr;
        let refresh = self.config.dns_refresh_interval;
        let Some(watch) = self.names.get_mut(name) else {
            self.stats.ignored_messages += 1;
            return;
        };
        watch.in_flight = None;
        watch.next_resolve = now + refresh;
        if let Ok(ips) = &result {
            watch.addrs = ips
                .iter()
                .take(MAX_ADDRS_PER_NAME)
                .flat_map(|ip| watch.ports.iter().map(|port| SocketAddr::new(*ip, *port)))
                .filter(|addr| *addr != me)
                .collect();
        }
        let waiting: Vec<(JoinId, BTreeSet<u16>)> = self
            .joins
            .iter_mut()
            .filter_map(|(join, p)| p.names.remove(name).map(|ports| (*join, ports)))
            .collect();
        for (join, ports) in waiting {
            match &result {
                Ok(ips) => {
                    for ip in ips.iter().take(MAX_ADDRS_PER_NAME) {
                        for port in &ports {
                            let addr = SocketAddr::new(*ip, *port);
                            if addr != me {
                                self.join_request(join, addr, format!("{name}:{port} ({addr})"));
                            }
                        }
                    }
                }
                Err(err) => {
                    if let Some(p) = self.joins.get_mut(&join) {
                        p.failures.push(JoinFailure {
                            target: name.to_owned(),
                            reason: err.to_string(),
                        });
                    }
                }
            }
            self.finish_join_if_done(join);
        }
    }

    /// Asks again for the joined names that are due. New addresses in the
    /// answers become seeds, gossiped with until heard from.
    pub(super) fn refresh_names(&mut self, now: Timestamp) {
        let refresh = self.config.dns_refresh_interval;
        let mut due = Vec::new();
        for (name, watch) in &mut self.names {
            if watch.deadline(refresh) <= now {
                watch.in_flight = Some(now);
                due.push(name.clone());
            }
        }
        for name in due {
            self.outputs.push_back(Output::Resolve { name });
        }
    }
}

/// Encoded length of a delta, for budgeting what goes beside it.
fn wire_len_hint(delta: &Delta) -> usize {
    postcard::experimental::serialized_size(delta).unwrap_or(usize::MAX / 2)
}
