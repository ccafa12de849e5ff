//! The world of the `node` target: what feeds the one node under test
//! (`n0`). It hands the node the steps of a [`NodeScript`], runs two honest
//! helper nodes (`n1`, `n2`) whose traffic to the node is captured for the
//! script to deliver (mutated, duplicated, or never), answers the node's
//! stream requests and DNS questions as the script says, and checks the
//! node after every step ([`super::oracle`] and the simulator's
//! invariants).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use kite_proto::wire;
use kite_proto::{
    Config, Event, JoinError, LeaveError, Node, Output, RequestId, ResolveError, SeededRng,
    StreamError, StreamId, Timestamp,
};

use super::grammar::{
    DnsAnswer, HelperAction, JoinTarget, MAX_STEPS, NodeScript, NodeStep, Reply, StreamFailure,
    sender,
};
use super::mutate::Mutation;
use super::oracle::{Checker, check_output};
use super::{addr, id, vectors};
use crate::invariants::{InvariantConfig, Invariants};

/// Most captured payloads kept for replay.
const POOL: usize = 32;

/// A payload a helper sent to the node, not yet delivered.
enum Captured {
    Datagram {
        from: usize,
        bytes: Vec<u8>,
    },
    Request {
        from: usize,
        id: RequestId,
        bytes: Vec<u8>,
    },
}

/// Who waits for the reply on a helper's inbound stream.
enum Route {
    Helper(usize, RequestId),
    Node,
}

struct World {
    now: Timestamp,
    node: Node,
    helpers: Vec<Node>,
    /// Helper traffic for the node.
    inbox: VecDeque<Captured>,
    /// Node datagrams for helpers: (helper, bytes).
    outbox: VecDeque<(usize, Vec<u8>)>,
    /// The node's outbound stream requests still open.
    requests: Vec<(RequestId, SocketAddr, Vec<u8>)>,
    answered: Vec<RequestId>,
    names: Vec<String>,
    /// The node's inbound streams awaiting its reply, with the helper
    /// request they serve.
    inbound: BTreeMap<StreamId, Option<(usize, RequestId)>>,
    /// Helpers' inbound streams awaiting their reply.
    helper_streams: BTreeMap<(usize, StreamId), Route>,
    helper_reply: Option<Option<Vec<u8>>>,
    next_stream: u64,
    events: Vec<Event>,
    checker: Checker,
    /// The multi-node invariants, for the node under test.
    invariants: Invariants,
}

fn ok(result: Result<(), String>) {
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn helper_at(to: SocketAddr) -> Option<usize> {
    (1..=2).find(|&i| addr(i) == to).map(|i| i - 1)
}

/// Runs a `node` script, panicking with a description of the first broken
/// invariant.
pub fn run_node(script: &NodeScript) {
    let now = Timestamp::from_micros(u64::from(script.knobs.start));
    let config = script.knobs.config();
    let seed = script.knobs.seed;
    let node = Node::new(config, SeededRng::from_seed_u64(seed), now)
        .unwrap_or_else(|e| panic!("knobs made an invalid config: {e}"));
    let helpers = (1..=2)
        .map(|i| {
            let mut c = Config::new(addr(i));
            c.node_id = Some(id(i));
            c.compact_threshold = 3;
            Node::new(c, SeededRng::from_seed_u64(seed ^ i as u64), now)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let checker = Checker::new(&node);
    let mut world = World {
        now,
        node,
        helpers,
        inbox: VecDeque::new(),
        outbox: VecDeque::new(),
        requests: Vec::new(),
        answered: Vec::new(),
        names: Vec::new(),
        inbound: BTreeMap::new(),
        helper_streams: BTreeMap::new(),
        helper_reply: None,
        next_stream: 0,
        events: Vec::new(),
        checker,
        invariants: Invariants::new(InvariantConfig::default()),
    };
    for (n, step) in script.steps.iter().take(MAX_STEPS).enumerate() {
        let local = world.step(step);
        world.drain_node();
        world.pump();
        if let Err(e) = world.check(local) {
            panic!("after step {n} ({step:?}): {e}");
        }
    }
}

impl World {
    /// Checks the node after a step: the events it emitted and its view
    /// against the simulator's invariants (no id here is registered: the
    /// helpers' traffic may be forged), then the oracle's single-node
    /// checks.
    fn check(&mut self, local: bool) -> Result<(), String> {
        let events = core::mem::take(&mut self.events);
        for event in &events {
            self.invariants
                .on_event(&self.node, event)
                .map_err(|v| v.what)?;
        }
        self.invariants.sweep(&self.node).map_err(|v| v.what)?;
        self.checker.check(&self.node, &events, local)
    }

    fn stream(&mut self) -> StreamId {
        self.next_stream += 1;
        StreamId(self.next_stream)
    }

    /// Runs one step; true if it was a local write or leave.
    fn step(&mut self, step: &NodeStep) -> bool {
        let now = self.now;
        match step {
            NodeStep::Datagram { from, bytes } => {
                self.node.handle_datagram(now, sender(*from), bytes);
            }
            NodeStep::Message {
                from,
                message,
                request,
            } => self.send(sender(*from), &wire::encode(message), *request),
            NodeStep::Vector {
                index,
                mutation,
                request,
            } => {
                let all = vectors();
                if !all.is_empty() {
                    let bytes = mutation.apply(&all[usize::from(*index) % all.len()].1);
                    self.send(addr(1), &bytes, *request);
                }
            }
            NodeStep::Request { from, bytes } => self.send(sender(*from), bytes, true),
            NodeStep::Relay {
                pick,
                mutation,
                twice,
            } => self.relay(*pick, mutation, *twice),
            NodeStep::Respond { pick, reply } => self.respond(*pick, reply),
            NodeStep::Resolve { pick, answer } => {
                let name = if self.names.is_empty() {
                    "kite".to_owned()
                } else {
                    self.names[usize::from(*pick) % self.names.len()].clone()
                };
                let result = match answer {
                    DnsAnswer::Fail => Err(ResolveError("no such name".into())),
                    DnsAnswer::Addrs(ips) => Ok(ips.iter().map(|ip| ip.ip()).collect()),
                    DnsAnswer::Many { count } => Ok((0..u32::from(*count) % 600)
                        .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
                        .collect()),
                };
                self.node.handle_resolved(now, &name, result);
            }
            NodeStep::Advance { millis } => {
                self.now = now + Duration::from_millis(u64::from(*millis));
                self.timeouts(false);
            }
            NodeStep::Sleep { seconds } => {
                self.now = now + Duration::from_secs(u64::from(*seconds));
                self.timeouts(true);
            }
            NodeStep::Tick => {
                self.now = self.now.max(self.node.next_timeout());
                self.timeouts(false);
            }
            NodeStep::Upsert { key, value } => {
                let (key, value) = (key.text(), value.text());
                let result = self.node.upsert_local(&key, &value);
                let checked = self.checker.local_write(&key, Some(&value), &result);
                ok(checked);
                return true;
            }
            NodeStep::Delete { key } => {
                let key = key.text();
                let result = self.node.delete_local(&key);
                let checked = self.checker.local_write(&key, None, &result);
                ok(checked);
                return true;
            }
            NodeStep::Join { targets } => {
                let targets: Vec<String> = targets.iter().map(JoinTarget::text).collect();
                let result = self.node.join(now, &targets);
                if self.checker.has_left() && !matches!(result, Err(JoinError::Left)) {
                    panic!("join after leave gave {result:?}");
                }
            }
            NodeStep::Leave => {
                let result = self.node.leave(now);
                let left = self.checker.has_left();
                match result {
                    Ok(()) if !left => self.checker.leave(),
                    Err(LeaveError::AlreadyLeft) if left => {}
                    other => panic!("leave gave {other:?} (left before: {left})"),
                }
                return true;
            }
            NodeStep::Helper { second, action } => self.helper(usize::from(*second), action),
        }
        false
    }

    /// Hands due deadlines to every node (all of them if `all`).
    fn timeouts(&mut self, all: bool) {
        let now = self.now;
        if all || self.node.next_timeout() <= now {
            self.node.handle_timeout(now);
        }
        for helper in &mut self.helpers {
            if helper.next_timeout() <= now {
                helper.handle_timeout(now);
            }
        }
    }

    /// Delivers `bytes` from `from` to the node.
    fn send(&mut self, from: SocketAddr, bytes: &[u8], request: bool) {
        if request {
            let stream = self.stream();
            self.inbound.insert(stream, None);
            self.node.handle_request(self.now, stream, from, bytes);
        } else {
            self.node.handle_datagram(self.now, from, bytes);
        }
    }

    fn relay(&mut self, pick: u8, mutation: &Mutation, twice: bool) {
        if self.inbox.is_empty() {
            return;
        }
        let i = usize::from(pick) % self.inbox.len();
        let Some(captured) = self.inbox.remove(i) else {
            return;
        };
        match captured {
            Captured::Datagram { from, bytes } => {
                let bytes = mutation.apply(&bytes);
                for _ in 0..=usize::from(twice) {
                    self.node.handle_datagram(self.now, addr(from + 1), &bytes);
                }
            }
            Captured::Request { from, id, bytes } => {
                let bytes = mutation.apply(&bytes);
                let stream = self.stream();
                self.inbound.insert(stream, Some((from, id)));
                self.node
                    .handle_request(self.now, stream, addr(from + 1), &bytes);
            }
        }
    }

    fn respond(&mut self, pick: u8, reply: &Reply) {
        let now = self.now;
        if let Reply::Stale = reply {
            let id = match self.answered.len() {
                0 => RequestId(u64::from(pick)),
                n => self.answered[usize::from(pick) % n],
            };
            self.node
                .handle_response(now, id, Err(StreamError::TimedOut));
            self.node.handle_response(now, id, Ok(&[1, 7, 1, b'x']));
            return;
        }
        if self.requests.is_empty() {
            return;
        }
        let i = usize::from(pick) % self.requests.len();
        let (id, to, payload) = self.requests.remove(i);
        self.answered.push(id);
        match reply {
            Reply::Honest(mutation) => match helper_at(to) {
                Some(h) => {
                    let stream = self.stream();
                    self.helper_streams.insert((h, stream), Route::Node);
                    self.helpers[h].handle_request(now, stream, addr(0), &payload);
                    self.pump();
                    let reply = self.helper_reply.take().flatten();
                    match reply {
                        Some(bytes) => {
                            let bytes = mutation.apply(&bytes);
                            self.node.handle_response(now, id, Ok(&bytes));
                        }
                        None => self.node.handle_response(now, id, Err(StreamError::Closed)),
                    }
                }
                None => self
                    .node
                    .handle_response(now, id, Err(StreamFailure::Connect.error())),
            },
            Reply::Fail(failure) => self.node.handle_response(now, id, Err(failure.error())),
            Reply::Bytes(bytes) => self.node.handle_response(now, id, Ok(bytes)),
            Reply::Message(msg) => self.node.handle_response(now, id, Ok(&wire::encode(msg))),
            Reply::Stale => {}
        }
    }

    fn helper(&mut self, h: usize, action: &HelperAction) {
        let now = self.now;
        let helper = &mut self.helpers[h];
        match action {
            HelperAction::Upsert { key, value } => {
                let _ = helper.upsert_local(&key.text(), &value.text());
            }
            HelperAction::Delete { key } => {
                let _ = helper.delete_local(&key.text());
            }
            HelperAction::Deliver { pick, mutation } => {
                let mine: Vec<usize> = (0..self.outbox.len())
                    .filter(|&i| self.outbox[i].0 == h)
                    .collect();
                if !mine.is_empty() {
                    let i = mine[usize::from(*pick) % mine.len()];
                    if let Some((_, bytes)) = self.outbox.remove(i) {
                        let bytes = mutation.apply(&bytes);
                        helper.handle_datagram(now, addr(0), &bytes);
                    }
                }
            }
            HelperAction::Join => {
                let _ = helper.join(now, &[addr(0).to_string()]);
            }
            HelperAction::Leave => {
                let _ = helper.leave(now);
            }
        }
        self.pump();
    }

    /// Carries out the node's outputs, checking each.
    fn drain_node(&mut self) {
        let now = self.now;
        let max_packet = self.node.config().max_packet_size;
        let limits = self.node.config().limits.clone();
        loop {
            let out = self.node.poll_output();
            if let Err(e) = check_output(&out, self.node.id(), max_packet, &limits) {
                panic!("{e}");
            }
            match out {
                Output::Timeout(_) => break,
                Output::Transmit { to, payload } => {
                    if let Some(h) = helper_at(to) {
                        self.outbox.push_back((h, payload));
                        if self.outbox.len() > POOL {
                            self.outbox.pop_front();
                        }
                    }
                }
                Output::Request { id, to, payload } => self.requests.push((id, to, payload)),
                Output::Response { id, payload } => match self.inbound.remove(&id) {
                    Some(Some((h, request))) => {
                        let reply = payload.as_deref().ok_or(StreamError::Closed);
                        self.helpers[h].handle_response(now, request, reply);
                    }
                    Some(None) => {}
                    None => panic!("a response for stream {id:?}, which is not open"),
                },
                Output::Resolve { name } => {
                    if !self.names.contains(&name) && self.names.len() < 8 {
                        self.names.push(name);
                    }
                }
                Output::Event(event) => self.events.push(event),
            }
        }
        if let Some(stream) = self.inbound.keys().next() {
            panic!("stream {stream:?} got no response");
        }
    }

    /// Runs the helpers until they are idle: their traffic to each other is
    /// delivered at once, their traffic to the node is captured.
    fn pump(&mut self) {
        let now = self.now;
        for _ in 0..64 {
            let mut idle = true;
            for h in 0..self.helpers.len() {
                loop {
                    let out = self.helpers[h].poll_output();
                    if matches!(out, Output::Timeout(_)) {
                        break;
                    }
                    idle = false;
                    self.route(h, out, now);
                }
            }
            if idle {
                return;
            }
        }
    }

    fn route(&mut self, h: usize, out: Output, now: Timestamp) {
        match out {
            Output::Transmit { to, payload } => {
                if to == addr(0) {
                    self.capture(Captured::Datagram {
                        from: h,
                        bytes: payload,
                    });
                } else if let Some(k) = helper_at(to).filter(|&k| k != h) {
                    self.helpers[k].handle_datagram(now, addr(h + 1), &payload);
                }
            }
            Output::Request { id, to, payload } => {
                if to == addr(0) {
                    self.capture(Captured::Request {
                        from: h,
                        id,
                        bytes: payload,
                    });
                } else if let Some(k) = helper_at(to).filter(|&k| k != h) {
                    let stream = self.stream();
                    self.helper_streams
                        .insert((k, stream), Route::Helper(h, id));
                    self.helpers[k].handle_request(now, stream, addr(h + 1), &payload);
                } else {
                    self.helpers[h].handle_response(now, id, Err(StreamFailure::Connect.error()));
                }
            }
            Output::Response { id, payload } => match self.helper_streams.remove(&(h, id)) {
                Some(Route::Helper(r, request)) => {
                    let reply = payload.as_deref().ok_or(StreamError::Closed);
                    self.helpers[r].handle_response(now, request, reply);
                }
                Some(Route::Node) => self.helper_reply = Some(payload),
                None => {}
            },
            Output::Resolve { name } => {
                self.helpers[h].handle_resolved(now, &name, Err(ResolveError("none".into())));
            }
            Output::Event(_) | Output::Timeout(_) => {}
        }
    }

    fn capture(&mut self, captured: Captured) {
        self.inbox.push_back(captured);
        if self.inbox.len() > POOL
            && let Some(Captured::Request { from, id, .. }) = self.inbox.pop_front()
        {
            // Never delivered: the helper's stream times out.
            self.helpers[from].handle_response(self.now, id, Err(StreamError::TimedOut));
        }
    }
}
