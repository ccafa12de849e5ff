//! Configuration of one node, with the defaults of the design and their limits.

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;

use crate::error::ConfigError;
use crate::id::NodeId;
use crate::security::Security;
use crate::wire::envelope;
use crate::wire::size::{MAX_NODE_HEADER_LEN, MAX_UPDATE_OVERHEAD, MESSAGE_OVERHEAD};

/// Smallest accepted `max_packet_size`: room for a header, a sender id and a
/// few digest and delta entries.
pub const MIN_PACKET_SIZE: usize = 512;

/// Largest accepted `max_packet_size`: the largest UDP payload over IPv4.
pub const MAX_PACKET_SIZE: usize = 65_507;

/// Bytes a stored entry costs beyond its key and value, when checking
/// `max_node_state_bytes` (so tombstones of empty keys still count).
pub const ENTRY_OVERHEAD: usize = 32;

/// How many live nodes a leaving node notifies directly.
pub const LEAVE_FANOUT: usize = 3;

/// The default [`Config::stream_timeout`]: 10 s for each of connect, write
/// and read.
pub const DEFAULT_STREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `node_expiry`: 24 days. A node keeps its peers' times in
/// 32-bit milliseconds, which tell ages apart up to 24.8 days.
pub const MAX_NODE_EXPIRY: Duration = Duration::from_secs(24 * 24 * 3600);

const _: () = assert!(MAX_NODE_EXPIRY.as_millis() < crate::time::Millis::MAX_AGE.as_millis());

/// How the core behaves. `Config::new(addr)` gives the documented defaults.
///
/// ```
/// use core::time::Duration;
/// use kite_proto::Config;
///
/// let mut config = Config::new("127.0.0.1:7000".parse().unwrap());
/// config.gossip_interval = Duration::from_millis(100);
/// config.validate()?;
/// assert_eq!(config.max_packet_size, 1400);
/// assert_eq!(config.stream_timeout, Duration::from_secs(10));
/// # Ok::<(), kite_proto::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// This node's id; `None` draws 9 random characters from the node's RNG.
    pub node_id: Option<NodeId>,
    /// Which run of the node this is: a number that grows with every start
    /// of a process under the same id. Default 0.
    ///
    /// Every node's heartbeats, versions and liveness verdicts belong to one
    /// generation. When a node learns of a newer generation of an id it
    /// replaces the older run there: the older run's keys are deleted (one
    /// [`Event::KeyDeleted`](crate::Event::KeyDeleted) each), the newer run's
    /// state is applied from version 1, and a down or left id is back
    /// ([`Event::NodeUp`](crate::Event::NodeUp) or
    /// [`Event::NodeJoined`](crate::Event::NodeJoined)). Anything about an
    /// older generation that arrives later is ignored and counted in
    /// [`Stats::stale_generation`](crate::Stats::stale_generation).
    ///
    /// The adapters set it to the wall-clock start time in milliseconds
    /// since the Unix epoch; the simulator derives it from its virtual
    /// clock. A custom event loop whose nodes keep their id across
    /// restarts must do the same (or use any other number that grows, e.g.
    /// a restart counter kept on disk): two runs of one id with the same
    /// generation mix their states at every peer.
    pub generation: u64,
    /// The address other nodes reach this node at (UDP and TCP).
    pub advertise_addr: SocketAddr,
    /// Time between gossip rounds (each jittered by up to ±10 %). Default 500 ms.
    pub gossip_interval: Duration,
    /// Live peers gossiped with per round (plus a probe of one down peer,
    /// which carries only our own digest entry). Default 1.
    pub gossip_fanout: usize,
    /// Largest datagram this node sends, its envelope (label, nonce and
    /// tag: see [`Security`]) included. Default 1400 bytes. Received
    /// datagrams may be up to 64 KiB whatever this says.
    pub max_packet_size: usize,
    /// Phi above which a node is considered down. Default 20.
    ///
    /// Phi is `-log10(P(a heartbeat this late))` under an exponential model of
    /// heartbeat inter-arrival times, so the detection delay is about
    /// `threshold × ln 10 × mean interval`: 46 mean intervals at 20.
    pub suspicion_threshold: f64,
    /// Number of local tombstones that triggers compaction. Default 500.
    pub compact_threshold: usize,
    /// How long a left or down node is kept before it is removed (and how long
    /// a removed id is remembered so stale gossip cannot bring it back).
    /// Default 5 minutes, at most [`MAX_NODE_EXPIRY`].
    pub node_expiry: Duration,
    /// How often joined domain names are resolved again. Default 30 s.
    pub dns_refresh_interval: Duration,
    /// How long the driver lets each step of a stream exchange take
    /// (connect, write a frame, read a frame), on the streams the node asks
    /// for ([`Output::Request`](crate::Output::Request)) and on those it
    /// serves ([`Node::handle_request`](crate::Node::handle_request)).
    /// When a step of an exchange the node asked for takes longer, the
    /// driver hands in [`StreamError::TimedOut`](crate::StreamError::TimedOut).
    /// The core reads no clock and never waits itself: this is the driver's
    /// setting, kept here so that every driver (an adapter, a loop of your
    /// own, the simulator) reads it from one place.
    /// Default [`DEFAULT_STREAM_TIMEOUT`] (10 s).
    pub stream_timeout: Duration,
    /// Size limits on state and messages.
    pub limits: Limits,
    /// The cluster label, the keyring and whether messages are sealed.
    /// Default: no label, no key, plaintext (see [`Security`]).
    pub security: Security,
}

impl Config {
    /// The defaults, advertising `advertise_addr`.
    pub fn new(advertise_addr: SocketAddr) -> Self {
        Config {
            node_id: None,
            generation: 0,
            advertise_addr,
            gossip_interval: Duration::from_millis(500),
            gossip_fanout: 1,
            max_packet_size: 1400,
            suspicion_threshold: 20.0,
            compact_threshold: 500,
            node_expiry: Duration::from_secs(300),
            dns_refresh_interval: Duration::from_secs(30),
            stream_timeout: DEFAULT_STREAM_TIMEOUT,
            limits: Limits::default(),
            security: Security::default(),
        }
    }

    /// Checks that the options can work together: `max_packet_size` within
    /// [`MIN_PACKET_SIZE`]`..=`[`MAX_PACKET_SIZE`]; `gossip_interval` above
    /// zero and at most an hour; `stream_timeout` above zero and at most a
    /// year; `node_expiry` at least a millisecond and at most 24 days (a
    /// node keeps its peers' times in 32-bit milliseconds, see
    /// `docs/design.md`, "Memory"); `dns_refresh_interval` at least a
    /// millisecond and at most a year; a fanout and a compaction
    /// threshold of at least 1; a finite positive suspicion threshold;
    /// consistent [`Limits`]; and a valid [`Security`] (a label within
    /// [`MAX_LABEL_LEN`](crate::security::MAX_LABEL_LEN), a key for a mode
    /// that seals).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_PACKET_SIZE..=MAX_PACKET_SIZE).contains(&self.max_packet_size) {
            return Err(ConfigError::PacketSize {
                size: self.max_packet_size,
            });
        }
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        let intervals = [
            (
                "gossip_interval",
                self.gossip_interval,
                Duration::from_micros(1),
                Duration::from_secs(3600),
                "(0, 1 hour]",
            ),
            (
                "stream_timeout",
                self.stream_timeout,
                Duration::from_micros(1),
                YEAR,
                "(0, 1 year]",
            ),
            (
                "node_expiry",
                self.node_expiry,
                Duration::from_millis(1),
                MAX_NODE_EXPIRY,
                "[1 ms, 24 days]",
            ),
            (
                "dns_refresh_interval",
                self.dns_refresh_interval,
                Duration::from_millis(1),
                YEAR,
                "[1 ms, 1 year]",
            ),
        ];
        for (option, value, min, max, range) in intervals {
            if value < min || value > max {
                return Err(ConfigError::Interval {
                    option,
                    value,
                    range,
                });
            }
        }
        if self.gossip_fanout == 0 {
            return Err(ConfigError::ZeroFanout);
        }
        if !(self.suspicion_threshold.is_finite() && self.suspicion_threshold > 0.0) {
            return Err(ConfigError::SuspicionThreshold {
                threshold: self.suspicion_threshold,
            });
        }
        if self.compact_threshold == 0 {
            return Err(ConfigError::ZeroCompactThreshold);
        }
        self.limits.validate()?;
        self.security.validate()
    }
}

impl Default for Config {
    /// The defaults with advertise address `0.0.0.0:7000`; adapters replace
    /// the unspecified IP with the host's.
    fn default() -> Self {
        Config::new(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 7000)))
    }
}

/// The largest `max_nodes` accepted (a peer table's index keeps slots in 24
/// bits).
const MAX_MAX_NODES: usize = 1 << 24;

/// Size limits, enforced on local writes (with a typed error) and on remote
/// state (violations are dropped and counted in [`crate::Stats`]).
///
/// # Keys and values
///
/// Every rule a key or value must follow, in one place:
///
/// - a key is a non-empty UTF-8 string of at most `max_key_len` bytes
///   ([`LocalStateError::EmptyKey`](crate::LocalStateError::EmptyKey),
///   [`KeyTooLong`](crate::LocalStateError::KeyTooLong));
/// - a value is a UTF-8 string (empty allowed) of at most `max_value_len`
///   bytes ([`ValueTooLong`](crate::LocalStateError::ValueTooLong));
/// - a node's whole state, counting every key, value and tombstone plus
///   [`ENTRY_OVERHEAD`] each, stays within `max_node_state_bytes`
///   ([`StateTooLarge`](crate::LocalStateError::StateTooLarge));
/// - any other content is allowed: keys and values are opaque to Kite;
/// - after `leave` the state is frozen ([`Left`](crate::LocalStateError::Left)),
///   and after an adapter's `shutdown` writes fail with
///   [`Stopped`](crate::LocalStateError::Stopped).
///
/// Remote updates that break a rule are dropped and counted in
/// [`Stats::dropped_updates`](crate::Stats::dropped_updates).
///
/// | limit | default |
/// | --- | --- |
/// | `max_key_len` | 256 bytes |
/// | `max_value_len` | 256 KiB |
/// | `max_node_state_bytes` | 1 MiB (keys + values + 32 bytes per entry, tombstones included) |
/// | `max_nodes` | 16,384 known nodes (at most 16,777,216) |
/// | `max_frame_len` | 4 MiB per stream frame |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest key, in bytes.
    pub max_key_len: usize,
    /// Longest value, in bytes.
    pub max_value_len: usize,
    /// Largest state of one node: the sum over its entries of key length,
    /// value length and [`ENTRY_OVERHEAD`].
    pub max_node_state_bytes: usize,
    /// Most nodes this node will track; further nodes are ignored (counted).
    pub max_nodes: usize,
    /// Longest stream frame sent or accepted, its envelope included. Must
    /// carry one node's whole state in the largest envelope.
    pub max_frame_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_key_len: 256,
            max_value_len: 256 * 1024,
            max_node_state_bytes: 1024 * 1024,
            max_nodes: 16_384,
            max_frame_len: 4 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Checks the limits against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_key_len == 0 || self.max_value_len == 0 {
            return Err(ConfigError::Limits {
                reason: "max_key_len and max_value_len must be above zero",
            });
        }
        if self.max_node_state_bytes < self.max_key_len + self.max_value_len + ENTRY_OVERHEAD {
            return Err(ConfigError::Limits {
                reason: "max_node_state_bytes must hold at least one largest entry",
            });
        }
        if self.max_nodes == 0 {
            return Err(ConfigError::Limits {
                reason: "max_nodes must be above zero",
            });
        }
        if self.max_nodes > MAX_MAX_NODES {
            return Err(ConfigError::Limits {
                reason: "max_nodes must be at most 16,777,216",
            });
        }
        let needed = self.frame_needed();
        if self.max_frame_len < needed {
            return Err(ConfigError::FrameTooSmall {
                max_frame_len: self.max_frame_len,
                needed,
            });
        }
        Ok(())
    }

    /// The smallest frame that holds one node's largest state in one message,
    /// in the largest envelope: every entry costs at most its bytes plus the
    /// update overhead, and `ENTRY_OVERHEAD` exceeds that overhead.
    fn frame_needed(&self) -> usize {
        envelope::MAX_OVERHEAD
            + MESSAGE_OVERHEAD
            + MAX_NODE_HEADER_LEN
            + self.max_node_state_bytes
            + MAX_UPDATE_OVERHEAD
    }
}
