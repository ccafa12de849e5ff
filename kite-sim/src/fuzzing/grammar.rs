//! The grammar of the fuzz inputs: the `arbitrary` types a fuzzer builds
//! for the `node` and `converge` targets. What the types mean is carried
//! out by `world.rs` (`node`) and `converge.rs`; seeds written
//! by hand are in `seeds.rs`.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

use arbitrary::Arbitrary;
use kite_proto::wire::Message;
use kite_proto::{
    Config, ConfigError, ENTRY_OVERHEAD, Limits, MAX_PACKET_SIZE, MIN_PACKET_SIZE, StreamError,
};

use super::mutate::Mutation;
use super::{addr, id};

/// A key: one of eight short ones most of the time, so writes collide.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// `k0` to `k7`.
    Small(u8),
    /// Any string.
    Any(String),
    /// `len` (modulo 300) repetitions of one letter: near the key limits.
    Long {
        /// Length.
        len: u16,
    },
}

impl Key {
    /// The key as a string.
    pub fn text(&self) -> String {
        match self {
            Key::Small(n) => format!("k{}", n % 8),
            Key::Any(s) => s.clone(),
            Key::Long { len } => "K".repeat(usize::from(*len % 300)),
        }
    }
}

/// A value: any string, or a long run of one letter.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Any string.
    Text(String),
    /// `len` (modulo 8192) repetitions of one letter: near the value limits
    /// and past what fits a datagram.
    Fill {
        /// Which letter.
        letter: u8,
        /// Length.
        len: u16,
    },
}

impl Value {
    /// The value as a string.
    pub fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Fill { letter, len } => char::from(b'a' + letter % 26)
                .to_string()
                .repeat(usize::from(*len % 8192)),
        }
    }
}

/// Most steps of one script that are run (the rest is ignored), so one
/// input cannot take unbounded time.
pub const MAX_STEPS: usize = 256;

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
fn frame_needed(limits: &Limits) -> usize {
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
    Fail(StreamFailure),
    /// These bytes come back.
    Bytes(Vec<u8>),
    /// This message comes back.
    Message(Message),
    /// A reply for a request that already ended (it must be ignored).
    Stale,
}

/// A stream failure.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFailure {
    /// Connection refused.
    Connect,
    /// Timed out.
    TimedOut,
    /// Closed without a reply.
    Closed,
    /// Another I/O error.
    Io,
}

impl StreamFailure {
    /// The error the node is handed.
    pub fn error(self) -> StreamError {
        match self {
            StreamFailure::Connect => StreamError::Connect("refused".into()),
            StreamFailure::TimedOut => StreamError::TimedOut,
            StreamFailure::Closed => StreamError::Closed,
            StreamFailure::Io => StreamError::Io("reset".into()),
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
    /// The address.
    pub fn ip(self) -> IpAddr {
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
    /// The target as `join` takes it.
    pub fn text(&self) -> String {
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

/// Most gossip rounds the clean exchange may take.
pub const MAX_CLEAN_ROUNDS: usize = 200;

/// The two nodes' configuration, chosen by the fuzzer.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct PairKnobs {
    /// Seeds the nodes' RNGs.
    pub seed: u64,
    /// `max_packet_size` is 512 plus this modulo 1024.
    pub packet: u16,
    /// `compact_threshold` is 1 + this modulo 8.
    pub compact: u8,
    /// Selects `suspicion_threshold` among 3, 8, 20 and 10^9.
    pub suspicion: u8,
    /// Before the clean exchange, every datagram still in flight arrives
    /// (late and stale) rather than being lost.
    pub flush_stale: bool,
}

/// A whole input of the `converge` target.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct PairScript {
    /// The nodes' configuration.
    pub knobs: PairKnobs,
    /// The faulty phase, in order.
    pub steps: Vec<PairStep>,
}

/// One event of the faulty phase. `second` picks node `n1` over `n0`.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum PairStep {
    /// A local upsert.
    Upsert {
        /// Which node.
        second: bool,
        /// The key.
        key: Key,
        /// The value.
        value: Value,
    },
    /// A local delete.
    Delete {
        /// Which node.
        second: bool,
        /// The key.
        key: Key,
    },
    /// Time passes; due deadlines are handled.
    Advance {
        /// Milliseconds.
        millis: u16,
    },
    /// One datagram in flight meets its fate.
    Deliver {
        /// Which datagram.
        pick: u8,
        /// Its fate.
        fault: Fault,
    },
    /// One open stream request meets its fate.
    Serve {
        /// Which request.
        pick: u8,
        /// Its fate.
        served: Served,
    },
    /// A stranger sends a message.
    Inject {
        /// To which node.
        second: bool,
        /// The message.
        message: Message,
        /// As a stream request rather than a datagram.
        request: bool,
    },
    /// A stranger sends bytes.
    Garbage {
        /// To which node.
        second: bool,
        /// The datagram.
        bytes: Vec<u8>,
    },
}

/// What happens to a datagram.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// It arrives.
    Deliver,
    /// It is lost.
    Drop,
    /// It arrives twice.
    Duplicate,
    /// It arrives mutated (forgeries are filtered, see the module docs).
    Mutate(Mutation),
}

/// What happens to a stream request.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// The peer gets the (mutated) request and its reply comes back.
    Serve(Mutation),
    /// The connection is refused.
    Refuse,
    /// The peer gets the request but the reply is lost (a timeout).
    LoseReply,
}
