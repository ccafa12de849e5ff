//! Target `node`: one node fed an arbitrary sequence of inputs, with its
//! invariants checked after every step.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use arbitrary::Arbitrary;

use super::mutate::Mutation;
use super::{Key, Value, addr, id, vectors};
use crate::config::{ENTRY_OVERHEAD, MAX_PACKET_SIZE, MIN_PACKET_SIZE};
use crate::error::{ConfigError, JoinError, LeaveError, LocalStateError};
use crate::wire::{self, Message};
use crate::{
    Config, Event, Limits, Node, NodeId, NodeStatus, NodeView, Output, RequestId, ResolveError,
    SeededRng, StreamError, StreamId, Timestamp,
};

/// Most steps of one script that are run (the rest is ignored), so one
/// input cannot take unbounded time.
pub const MAX_STEPS: usize = 256;

/// Most captured payloads kept for replay.
const POOL: usize = 32;

/// The configuration of the node under test, chosen by the fuzzer. Limits
/// are kept small so that inputs reach them.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct NodeKnobs {
    /// Seeds the node's RNG.
    pub seed: u64,
    /// Start time, in microseconds.
    pub start: u32,
    /// Selects `max_packet_size` (the smallest allowed, the default, the
    /// largest, or in between).
    pub packet: u16,
    /// `max_nodes` is 1 + this modulo 12.
    pub max_nodes: u8,
    /// `max_key_len` is 1 + this modulo 64.
    pub key_len: u8,
    /// `max_value_len` is 1 + this modulo 4096.
    pub value_len: u16,
    /// Room in `max_node_state_bytes` beyond one largest entry, modulo 8192.
    pub state_slack: u16,
    /// `max_frame_len` is the least the other limits allow, or 64 KiB more.
    pub large_frame: bool,
    /// `compact_threshold` is 1 + this modulo 8.
    pub compact: u8,
    /// Selects `suspicion_threshold` among 1, 3, 8 and 20.
    pub suspicion: u8,
    /// `node_expiry` is 1 + this modulo 60 seconds.
    pub expiry_secs: u8,
    /// `gossip_fanout` is 1 + this modulo 3.
    pub fanout: u8,
}

impl NodeKnobs {
    /// The configuration these knobs select (always valid).
    pub fn config(&self) -> Config {
        let mut c = Config::new(addr(0));
        c.node_id = Some(id(0));
        c.max_packet_size = match self.packet % 4 {
            0 => MIN_PACKET_SIZE,
            1 => 1400,
            2 => MAX_PACKET_SIZE,
            _ => MIN_PACKET_SIZE + usize::from(self.packet >> 2) % 1500,
        };
        let key = 1 + usize::from(self.key_len % 64);
        let value = 1 + usize::from(self.value_len % 4096);
        let mut limits = Limits {
            max_key_len: key,
            max_value_len: value,
            max_node_state_bytes: key
                + value
                + ENTRY_OVERHEAD
                + usize::from(self.state_slack % 8192),
            max_nodes: 1 + usize::from(self.max_nodes % 12),
            max_frame_len: 0,
        };
        limits.max_frame_len = frame_needed(&limits) + if self.large_frame { 1 << 16 } else { 0 };
        c.limits = limits;
        c.compact_threshold = 1 + usize::from(self.compact % 8);
        c.suspicion_threshold = [1.0, 3.0, 8.0, 20.0][usize::from(self.suspicion % 4)];
        c.node_expiry = Duration::from_secs(1 + u64::from(self.expiry_secs % 60));
        c.gossip_fanout = 1 + usize::from(self.fanout % 3);
        c
    }
}

/// The least `max_frame_len` that the other limits allow.
pub(crate) fn frame_needed(limits: &Limits) -> usize {
    let probe = Limits {
        max_frame_len: 0,
        ..limits.clone()
    };
    match probe.validate() {
        Err(ConfigError::FrameTooSmall { needed, .. }) => needed,
        _ => 4 << 20,
    }
}

/// A whole input of the `node` target.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct NodeScript {
    /// The node's configuration.
    pub knobs: NodeKnobs,
    /// What happens to it, in order.
    pub steps: Vec<NodeStep>,
}

/// One input to the node under test (`n0`), or an action of one of the two
/// honest helper nodes (`n1`, `n2`) whose traffic it can be fed.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum NodeStep {
    /// Raw bytes as a datagram.
    Datagram {
        /// Sender (see [`sender`]).
        from: u8,
        /// The datagram.
        bytes: Vec<u8>,
    },
    /// A message, encoded, as a datagram or stream request.
    Message {
        /// Sender (see [`sender`]).
        from: u8,
        /// The message.
        message: Message,
        /// Sent as a stream request rather than a datagram.
        request: bool,
    },
    /// A committed wire test vector, mutated, as a datagram or stream request.
    Vector {
        /// Which vector.
        index: u8,
        /// What is done to it.
        mutation: Mutation,
        /// Sent as a stream request rather than a datagram.
        request: bool,
    },
    /// Raw bytes as a stream request.
    Request {
        /// Sender (see [`sender`]).
        from: u8,
        /// The request frame's body.
        bytes: Vec<u8>,
    },
    /// Something a helper sent to the node, mutated, delivered (and maybe
    /// delivered twice).
    Relay {
        /// Which captured payload.
        pick: u8,
        /// What is done to it.
        mutation: Mutation,
        /// Deliver it a second time.
        twice: bool,
    },
    /// Ends one of the node's outbound stream requests.
    Respond {
        /// Which request.
        pick: u8,
        /// How it ends.
        reply: Reply,
    },
    /// Answers one of the node's DNS questions.
    Resolve {
        /// Which name.
        pick: u8,
        /// The answer.
        answer: DnsAnswer,
    },
    /// Time passes; due deadlines are handled.
    Advance {
        /// Milliseconds.
        millis: u16,
    },
    /// A long gap (a stall of the whole process), then the deadline.
    Sleep {
        /// Seconds.
        seconds: u16,
    },
    /// Time moves to the node's next deadline, which is handled.
    Tick,
    /// A local upsert.
    Upsert {
        /// The key.
        key: Key,
        /// The value.
        value: Value,
    },
    /// A local delete.
    Delete {
        /// The key.
        key: Key,
    },
    /// A `join` call.
    Join {
        /// Its targets.
        targets: Vec<JoinTarget>,
    },
    /// A `leave` call.
    Leave,
    /// A helper acts.
    Helper {
        /// Which helper (`n1` or `n2`).
        second: bool,
        /// What it does.
        action: HelperAction,
    },
}

/// How a stream request of the node ends.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The addressed helper serves it; its reply is mutated. A request to
    /// any other address is refused.
    Honest(Mutation),
    /// The exchange fails.
    Fail(Failure),
    /// These bytes come back.
    Bytes(Vec<u8>),
    /// This message comes back.
    Message(Message),
    /// A reply for a request that already ended (it must be ignored).
    Stale,
}

/// A stream failure.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Connection refused.
    Connect,
    /// Timed out.
    TimedOut,
    /// Closed without a reply.
    Closed,
    /// Another I/O error.
    Io,
}

impl Failure {
    fn error(self) -> StreamError {
        match self {
            Failure::Connect => StreamError::Connect("refused".into()),
            Failure::TimedOut => StreamError::TimedOut,
            Failure::Closed => StreamError::Closed,
            Failure::Io => StreamError::Io("reset".into()),
        }
    }
}

/// A DNS answer.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum DnsAnswer {
    /// The lookup failed.
    Fail,
    /// These addresses.
    Addrs(Vec<Ip>),
    /// Many distinct addresses (past the per-answer cap).
    Many {
        /// How many.
        count: u16,
    },
}

/// An address in a DNS answer.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ip {
    /// A helper's (or, for 0, the node's own).
    Node(u8),
    /// Any IPv4 address.
    V4([u8; 4]),
    /// Any IPv6 address.
    V6([u8; 16]),
}

impl Ip {
    fn ip(self) -> IpAddr {
        match self {
            Ip::Node(i) => addr(usize::from(i % 3)).ip(),
            Ip::V4(o) => IpAddr::V4(Ipv4Addr::from(o)),
            Ip::V6(o) => IpAddr::V6(Ipv6Addr::from(o)),
        }
    }
}

/// A target of a `join` call.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum JoinTarget {
    /// A node's address (`ip:port`, or a bare IP for odd numbers); 0 is the
    /// node itself.
    Node(u8),
    /// One of a few domain names, with or without a port.
    Name(u8),
    /// Any string.
    Raw(String),
}

impl JoinTarget {
    fn text(&self) -> String {
        match self {
            JoinTarget::Node(i) => {
                let a = addr(usize::from(i % 3));
                if i % 2 == 1 {
                    a.ip().to_string()
                } else {
                    a.to_string()
                }
            }
            JoinTarget::Name(i) => {
                ["kite", "kite.svc:7000", "other.local:7001", "KITE"][usize::from(i % 4)].to_owned()
            }
            JoinTarget::Raw(s) => s.clone(),
        }
    }
}

/// What a helper does.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum HelperAction {
    /// A local upsert.
    Upsert {
        /// The key.
        key: Key,
        /// The value.
        value: Value,
    },
    /// A local delete.
    Delete {
        /// The key.
        key: Key,
    },
    /// Receives a datagram the node sent it, mutated.
    Deliver {
        /// Which datagram.
        pick: u8,
        /// What is done to it.
        mutation: Mutation,
    },
    /// Joins the node.
    Join,
    /// Leaves.
    Leave,
}

/// The sender address for `from`: 0 is the node's own address, 1 and 2 the
/// helpers', anything else a stranger's.
pub fn sender(from: u8) -> SocketAddr {
    match from {
        0..=2 => addr(usize::from(from)),
        _ => SocketAddr::from(([10, 0, 0, from], 7000)),
    }
}

/// Checks one output of node `me`: datagrams within `max_packet`, stream
/// payloads within the frame limit, and everything well-formed, of the
/// right kind for its channel, and sent in our own name.
pub(crate) fn check_output(
    out: &Output,
    me: &NodeId,
    max_packet: usize,
    limits: &Limits,
) -> Result<(), String> {
    let (payload, datagram, reply) = match out {
        Output::Transmit { payload, .. } => (payload, true, false),
        Output::Request { payload, .. } => (payload, false, false),
        Output::Response {
            payload: Some(payload),
            ..
        } => (payload, false, true),
        _ => return Ok(()),
    };
    let max = if datagram {
        max_packet
    } else {
        limits.max_frame_len
    };
    if payload.len() > max {
        return Err(format!(
            "{} bytes over the {max}-byte limit: {out:?}",
            payload.len()
        ));
    }
    let msg = wire::decode(payload).map_err(|e| format!("emitted {e}: {out:?}"))?;
    let right_kind = match &msg {
        Message::DigestRequest { .. } | Message::DigestResponse { .. } | Message::Delta { .. } => {
            datagram
        }
        Message::JoinRequest { .. } | Message::Push { .. } => !datagram && !reply,
        Message::JoinResponse { .. } | Message::Ack { .. } => reply,
    };
    if !right_kind || msg.from() != me {
        return Err(format!("wrong kind or sender: {msg:?}"));
    }
    let nodes = match &msg {
        Message::DigestResponse { delta, .. }
        | Message::Delta { delta, .. }
        | Message::JoinRequest { delta, .. }
        | Message::JoinResponse { delta, .. }
        | Message::Push { delta, .. } => &delta.nodes[..],
        Message::DigestRequest { .. } | Message::Ack { .. } => &[],
    };
    let distinct: BTreeSet<&NodeId> = nodes.iter().map(|n| &n.id).collect();
    if distinct.len() != nodes.len() {
        return Err(format!("a delta lists a node twice: {msg:?}"));
    }
    Ok(())
}

/// The invariants of one node, checked after every step.
pub(crate) struct Checker {
    versions: BTreeMap<NodeId, u64>,
    local: NodeView,
    model: BTreeMap<String, String>,
    left: bool,
}

impl Checker {
    pub(crate) fn new(node: &Node) -> Checker {
        Checker {
            versions: BTreeMap::new(),
            local: node.local_node(),
            model: BTreeMap::new(),
            left: false,
        }
    }

    /// A local upsert or delete returned `result`.
    pub(crate) fn local_write(
        &mut self,
        key: &str,
        value: Option<&str>,
        result: &Result<(), LocalStateError>,
    ) -> Result<(), String> {
        match (result, value) {
            (Ok(()), Some(value)) => {
                self.model.insert(key.to_owned(), value.to_owned());
            }
            (Ok(()), None) => {
                self.model.remove(key);
            }
            (Err(LocalStateError::Left), _) if self.left => {}
            (Err(LocalStateError::Left), _) => return Err("write refused as left".into()),
            (Err(_), _) if self.left => return Err(format!("left, but {result:?}")),
            (Err(_), _) => {}
        }
        Ok(())
    }

    /// Checks the node after a step that emitted `events`; `local` tells
    /// whether the step was a local write or a leave.
    pub(crate) fn check(
        &mut self,
        node: &Node,
        events: &[Event],
        local: bool,
    ) -> Result<(), String> {
        let me = node.id();
        let limits = &node.config().limits;
        let mut expired = BTreeSet::new();
        let mut joined = BTreeSet::new();
        for event in events {
            let about = match event {
                Event::NodeJoined { id, .. } => {
                    joined.insert(id.clone());
                    Some(id)
                }
                Event::NodeExpired { id } => {
                    expired.insert(id.clone());
                    Some(id)
                }
                Event::NodeLeft { id }
                | Event::NodeDown { id }
                | Event::NodeUp { id }
                | Event::KeyUpserted { id, .. }
                | Event::KeyDeleted { id, .. } => Some(id),
                Event::JoinCompleted { .. } | Event::LeaveCompleted { .. } => None,
            };
            if about == Some(me) {
                return Err(format!("event about the local node: {event:?}"));
            }
            if let Event::KeyUpserted { key, value, .. } = event
                && (key.len() > limits.max_key_len || value.len() > limits.max_value_len)
            {
                return Err(format!("over the limits: {event:?}"));
            }
        }
        let views = node.nodes();
        let (local_view, remote) = views.split_first().ok_or("no local node")?;
        if &local_view.id != me {
            return Err("the first node is not the local one".into());
        }
        if remote.len() > limits.max_nodes {
            return Err(format!(
                "{} nodes known, limit {}",
                remote.len(),
                limits.max_nodes
            ));
        }
        let mut versions = BTreeMap::new();
        for view in remote {
            if &view.id == me {
                return Err("the local node is listed as remote".into());
            }
            match self.versions.get(&view.id) {
                Some(&old) if view.version < old && !expired.contains(&view.id) => {
                    return Err(format!(
                        "{} went from version {old} to {}",
                        view.id, view.version
                    ));
                }
                None if !joined.contains(&view.id) => {
                    return Err(format!("{} appeared without NodeJoined", view.id));
                }
                _ => {}
            }
            let mut bytes = 0;
            for (k, v) in &view.entries {
                if k.len() > limits.max_key_len || v.len() > limits.max_value_len {
                    return Err(format!("{} holds {k:?} over the limits", view.id));
                }
                bytes += k.len() + v.len() + ENTRY_OVERHEAD;
            }
            if bytes > limits.max_node_state_bytes {
                return Err(format!("{} holds {bytes} bytes", view.id));
            }
            versions.insert(view.id.clone(), view.version);
        }
        for id in self.versions.keys() {
            if !versions.contains_key(id) && !expired.contains(id) {
                return Err(format!("{id} vanished without NodeExpired"));
            }
        }
        self.versions = versions;
        if !local && *local_view != self.local {
            return Err(format!(
                "local node changed without a local write: {:?} -> {local_view:?}",
                self.local
            ));
        }
        if local_view.entries != self.model {
            return Err(format!(
                "local entries {:?}, expected {:?}",
                local_view.entries, self.model
            ));
        }
        let status = if self.left {
            NodeStatus::Left
        } else {
            NodeStatus::Alive
        };
        if local_view.status != status || node.has_left() != self.left {
            return Err(format!(
                "local status {:?}, expected {status:?}",
                local_view.status
            ));
        }
        if local_view.version < self.local.version {
            return Err("local version went down".into());
        }
        self.local = local_view.clone();
        node.audit()?;
        Ok(())
    }
}

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
    };
    for (n, step) in script.steps.iter().take(MAX_STEPS).enumerate() {
        let local = world.step(step);
        world.drain_node();
        world.pump();
        let events = core::mem::take(&mut world.events);
        if let Err(e) = world.checker.check(&world.node, &events, local) {
            panic!("after step {n} ({step:?}): {e}");
        }
    }
}

impl World {
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
                if self.checker.left && !matches!(result, Err(JoinError::Left)) {
                    panic!("join after leave gave {result:?}");
                }
            }
            NodeStep::Leave => {
                let result = self.node.leave(now);
                match result {
                    Ok(()) if !self.checker.left => self.checker.left = true,
                    Err(LeaveError::AlreadyLeft) if self.checker.left => {}
                    other => panic!("leave gave {other:?} (left before: {})", self.checker.left),
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
                    .handle_response(now, id, Err(Failure::Connect.error())),
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
                    self.helpers[h].handle_response(now, id, Err(Failure::Connect.error()));
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
