//! Configuration of one node, with the defaults of the design and their limits.

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;

use crate::error::ConfigError;
use crate::id::NodeId;
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
/// # Ok::<(), kite_proto::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// This node's id; `None` draws 9 random characters from the node's RNG.
    pub node_id: Option<NodeId>,
    /// The address other nodes reach this node at (UDP and TCP).
    pub advertise_addr: SocketAddr,
    /// Time between gossip rounds (each jittered by up to ±10 %). Default 500 ms.
    pub gossip_interval: Duration,
    /// Live peers gossiped with per round (plus one down peer). Default 1.
    pub gossip_fanout: usize,
    /// Largest datagram this node sends. Default 1400 bytes. Received
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
    /// Default 5 minutes.
    pub node_expiry: Duration,
    /// How often joined domain names are resolved again. Default 30 s.
    pub dns_refresh_interval: Duration,
    /// Size limits on state and messages.
    pub limits: Limits,
}

impl Config {
    /// The defaults, advertising `advertise_addr`.
    pub fn new(advertise_addr: SocketAddr) -> Self {
        Config {
            node_id: None,
            advertise_addr,
            gossip_interval: Duration::from_millis(500),
            gossip_fanout: 1,
            max_packet_size: 1400,
            suspicion_threshold: 20.0,
            compact_threshold: 500,
            node_expiry: Duration::from_secs(300),
            dns_refresh_interval: Duration::from_secs(30),
            limits: Limits::default(),
        }
    }

    /// Checks that the options can work together: `max_packet_size` within
    /// [`MIN_PACKET_SIZE`]`..=`[`MAX_PACKET_SIZE`]; `gossip_interval` above
    /// zero and at most an hour; `node_expiry` and `dns_refresh_interval`
    /// at least a millisecond and at most a year; a fanout and a compaction
    /// threshold of at least 1; a finite positive suspicion threshold; and
    /// consistent [`Limits`].
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
                "node_expiry",
                self.node_expiry,
                Duration::from_millis(1),
                YEAR,
                "[1 ms, 1 year]",
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
        self.limits.validate()
    }
}

impl Default for Config {
    /// The defaults with advertise address `0.0.0.0:7000`; adapters replace
    /// the unspecified IP with the host's.
    fn default() -> Self {
        Config::new(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 7000)))
    }
}

/// Size limits, enforced on local writes (with a typed error) and on remote
/// state (violations are dropped and counted in [`crate::Stats`]).
///
/// | limit | default |
/// | --- | --- |
/// | `max_key_len` | 256 bytes |
/// | `max_value_len` | 256 KiB |
/// | `max_node_state_bytes` | 1 MiB (keys + values + 32 bytes per entry, tombstones included) |
/// | `max_nodes` | 16,384 known nodes |
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
    /// Longest stream frame sent or accepted. Must carry one node's whole state.
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
        let needed = self.frame_needed();
        if self.max_frame_len < needed {
            return Err(ConfigError::FrameTooSmall {
                max_frame_len: self.max_frame_len,
                needed,
            });
        }
        Ok(())
    }

    /// The smallest frame that holds one node's largest state in one message:
    /// every entry costs at most its bytes plus the update overhead, and
    /// `ENTRY_OVERHEAD` exceeds that overhead.
    fn frame_needed(&self) -> usize {
        MESSAGE_OVERHEAD + MAX_NODE_HEADER_LEN + self.max_node_state_bytes + MAX_UPDATE_OVERHEAD
    }
}
