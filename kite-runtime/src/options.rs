//! The options of a node, their validation, and the choice of the address
//! it advertises.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kite_proto::{Config, ConfigError, Event, Key, Limits, NodeId, Security, SecurityMode};

use crate::watcher::Watcher;

/// Default stream timeout (connect, write and read each): the core's
/// [`Config::stream_timeout`] default.
pub use kite_proto::DEFAULT_STREAM_TIMEOUT;

/// Everything that configures a node: the protocol's settings and those of
/// its sockets. Every option has the documented default; set only what you
/// need, with the builder methods or by assigning the fields (each field's
/// builder method has its name).
///
/// | option | default |
/// | --- | --- |
/// | [`node_id`](Options::node_id) | 9 random characters from the OS's RNG |
/// | [`bind_addr`](Options::bind_addr) | `0.0.0.0:7000` (UDP and TCP) |
/// | [`advertise_addr`](Options::advertise_addr) | the bind IP, or if unspecified the host's private IP (see [`choose_advertise_ip`]); the bound port |
/// | [`gossip_interval`](Options::gossip_interval) | 500 ms |
/// | [`gossip_fanout`](Options::gossip_fanout) | 1 |
/// | [`max_packet_size`](Options::max_packet_size) | 1400 bytes |
/// | [`stream_timeout`](Options::stream_timeout) | 10 s for each of connect, write and read |
/// | [`suspicion_threshold`](Options::suspicion_threshold) | 20 |
/// | [`compact_threshold`](Options::compact_threshold) | 500 deleted keys |
/// | [`node_expiry`](Options::node_expiry) | 5 minutes |
/// | [`dns_refresh_interval`](Options::dns_refresh_interval) | 30 s |
/// | [`name_servers`](Options::name_servers) | the system's resolver configuration |
/// | [`limits`](Options::limits) | [`Limits::default`] |
/// | [`watcher`](Options::watcher), [`on_event`](Options::on_event) | none |
///
/// ```
/// use core::time::Duration;
/// use kite_runtime::Options;
///
/// let mut options = Options::new()
///     .bind_addr("127.0.0.1:7000".parse()?)
///     .gossip_interval(Duration::from_millis(100))
///     .on_event(|event| println!("{event:?}"));
/// options.max_packet_size = 9000;
/// assert_eq!(options.gossip_interval, Duration::from_millis(100));
/// assert_eq!(options.stream_timeout, Duration::from_secs(10));
/// options.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// This node's id; `None` draws 9 random characters.
    pub node_id: Option<NodeId>,
    /// Which run of the node this is ([`Config::generation`]); `None`
    /// takes the wall-clock start time in milliseconds since the Unix epoch.
    pub generation: Option<u64>,
    /// Where UDP and TCP are bound.
    pub bind_addr: SocketAddr,
    /// The address to advertise, if set explicitly.
    pub advertise_addr: Option<SocketAddr>,
    /// Time between gossip rounds.
    pub gossip_interval: Duration,
    /// Live peers gossiped with per round.
    pub gossip_fanout: usize,
    /// Largest datagram sent.
    pub max_packet_size: usize,
    /// Timeout of each of connect, write and read on a stream (the core's
    /// [`Config::stream_timeout`], which the node's tasks read).
    pub stream_timeout: Duration,
    /// Phi above which a node is reported down.
    pub suspicion_threshold: f64,
    /// Number of local deleted keys that triggers compaction.
    pub compact_threshold: usize,
    /// How long a left or down node is kept before it is removed: at most
    /// [`kite_proto::MAX_NODE_EXPIRY`] (24 days).
    pub node_expiry: Duration,
    /// How often joined domain names are resolved again.
    pub dns_refresh_interval: Duration,
    /// DNS servers to ask (`ip:port`); empty means the system configuration.
    pub name_servers: Vec<SocketAddr>,
    /// Size limits on keys, values, state and frames.
    pub limits: Limits,
    /// Cluster label, keyring and encryption mode ([`Config::security`]);
    /// none by default.
    pub security: Security,
    /// Told of every event.
    pub(crate) watchers: Vec<Arc<dyn Watcher>>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("node_id", &self.node_id)
            .field("generation", &self.generation)
            .field("bind_addr", &self.bind_addr)
            .field("advertise_addr", &self.advertise_addr)
            .field("gossip_interval", &self.gossip_interval)
            .field("gossip_fanout", &self.gossip_fanout)
            .field("max_packet_size", &self.max_packet_size)
            .field("stream_timeout", &self.stream_timeout)
            .field("suspicion_threshold", &self.suspicion_threshold)
            .field("compact_threshold", &self.compact_threshold)
            .field("node_expiry", &self.node_expiry)
            .field("dns_refresh_interval", &self.dns_refresh_interval)
            .field("name_servers", &self.name_servers)
            .field("limits", &self.limits)
            .field("security", &self.security)
            .field("watchers", &self.watchers.len())
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// The defaults (those of [`Config`] for the protocol's settings).
    pub fn new() -> Self {
        let bind_addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 7000));
        let core = Config::new(bind_addr);
        Options {
            node_id: core.node_id,
            generation: None,
            bind_addr,
            advertise_addr: None,
            gossip_interval: core.gossip_interval,
            gossip_fanout: core.gossip_fanout,
            max_packet_size: core.max_packet_size,
            stream_timeout: core.stream_timeout,
            suspicion_threshold: core.suspicion_threshold,
            compact_threshold: core.compact_threshold,
            node_expiry: core.node_expiry,
            dns_refresh_interval: core.dns_refresh_interval,
            name_servers: Vec::new(),
            limits: core.limits,
            security: core.security,
            watchers: Vec::new(),
        }
    }

    /// This node's id (default: 9 random characters). A process may keep
    /// its id across restarts (a StatefulSet pod's name): each run has a
    /// later [`generation`](Options::generation), and every node replaces
    /// the earlier run's keys with the new run's.
    pub fn node_id(mut self, id: NodeId) -> Self {
        self.node_id = Some(id);
        self
    }

    /// Which run of the node this is (default: the wall-clock start time in
    /// milliseconds since the Unix epoch, which grows with every restart
    /// unless the clock goes back). Set it when the clock cannot be trusted
    /// to, e.g. from a restart counter kept on disk; see
    /// [`Config::generation`].
    pub fn generation(mut self, generation: u64) -> Self {
        self.generation = Some(generation);
        self
    }

    /// Where UDP and TCP are bound (the same port for both). Port 0 takes a
    /// free port, which is then advertised.
    pub fn bind_addr(mut self, addr: SocketAddr) -> Self {
        self.bind_addr = addr;
        self
    }

    /// The address other nodes reach this node at, when it differs from the
    /// bind address (behind NAT, in a container).
    pub fn advertise_addr(mut self, addr: SocketAddr) -> Self {
        self.advertise_addr = Some(addr);
        self
    }

    /// Time between gossip rounds.
    pub fn gossip_interval(mut self, interval: Duration) -> Self {
        self.gossip_interval = interval;
        self
    }

    /// Live peers gossiped with per round.
    pub fn gossip_fanout(mut self, fanout: usize) -> Self {
        self.gossip_fanout = fanout;
        self
    }

    /// Largest datagram sent (any datagram up to 64 KiB is received).
    pub fn max_packet_size(mut self, size: usize) -> Self {
        self.max_packet_size = size;
        self
    }

    /// Timeout applied to each of connect, write and read on a stream (see
    /// [`Config::stream_timeout`]).
    pub fn stream_timeout(mut self, timeout: Duration) -> Self {
        self.stream_timeout = timeout;
        self
    }

    /// Phi above which a node is reported down (see [`Config::suspicion_threshold`]).
    pub fn suspicion_threshold(mut self, threshold: f64) -> Self {
        self.suspicion_threshold = threshold;
        self
    }

    /// Number of local deleted keys that triggers compaction.
    pub fn compact_threshold(mut self, threshold: usize) -> Self {
        self.compact_threshold = threshold;
        self
    }

    /// How long a left or down node is kept before it is removed: at most
    /// [`kite_proto::MAX_NODE_EXPIRY`] (24 days).
    pub fn node_expiry(mut self, expiry: Duration) -> Self {
        self.node_expiry = expiry;
        self
    }

    /// How often joined domain names are resolved again.
    pub fn dns_refresh_interval(mut self, interval: Duration) -> Self {
        self.dns_refresh_interval = interval;
        self
    }

    /// DNS servers (`ip:port`) to use instead of the system configuration.
    pub fn name_servers(mut self, servers: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.name_servers = servers.into_iter().collect();
        self
    }

    /// Size limits on keys, values, state and frames.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The cluster label (default empty, at most
    /// [`MAX_LABEL_LEN`](kite_proto::MAX_LABEL_LEN) bytes): nodes talk only
    /// to nodes of the same label, so clusters sharing a network or a seed
    /// address stay apart. See docs/security.md.
    pub fn cluster_label(mut self, label: impl Into<String>) -> Self {
        self.security.label = label.into();
        self
    }

    /// Adds `key` to the keyring; the first key added is the primary, which
    /// seals what the node sends, and every key opens what arrives. Keys
    /// can be rotated on the running node ([`Kite::install_key`](crate::Kite::install_key)).
    ///
    /// ```
    /// use kite_runtime::{Key, Options, SecurityMode};
    ///
    /// let key: Key = "qUSUnd3mHB33UK7BbRh9kDvXx6ewAW+8Wpqz1ShfMb0=".parse().unwrap();
    /// let options = Options::new()
    ///     .cluster_label("prod")
    ///     .key(key)
    ///     .security_mode(SecurityMode::Encrypted);
    /// assert_eq!(options.security.keys.len(), 1);
    /// ```
    pub fn key(mut self, key: Key) -> Self {
        self.security.keys.push(key);
        self
    }

    /// What the node sends and accepts (default
    /// [`SecurityMode::Plaintext`]); a mode that seals needs a key. Switch a
    /// running cluster node by node through `Rolling`
    /// ([`Kite::set_security_mode`](crate::Kite::set_security_mode)).
    pub fn security_mode(mut self, mode: SecurityMode) -> Self {
        self.security.mode = mode;
        self
    }

    /// Adds a watcher, told of every event (see [`Watcher`]).
    pub fn watcher(mut self, watcher: impl Watcher + 'static) -> Self {
        self.watchers.push(Arc::new(watcher));
        self
    }

    /// Adds a closure told of every event, like [`watcher`](Options::watcher)
    /// (it must not block either).
    pub fn on_event(self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.watcher(f)
    }

    /// How many watchers (and `on_event` closures) were added.
    pub fn watcher_count(&self) -> usize {
        self.watchers.len()
    }

    /// Checks the options as [`Kite::start`](crate::Kite::start) does,
    /// before anything is bound.
    pub fn validate(&self) -> Result<(), StartError> {
        self.core_config(self.bind_addr).validate()?;
        if let Some(addr) = self.advertise_addr
            && (addr.ip().is_unspecified() || addr.port() == 0)
        {
            return Err(StartError::AdvertiseAddr { addr });
        }
        Ok(())
    }

    /// The address to advertise once the sockets are bound at `bound` (the
    /// real port when 0 was asked for), given the host's interface addresses
    /// (see [`choose_advertise_ip`]). Without a usable interface address the
    /// loopback address is advertised, so only nodes on this host can reach it.
    pub(crate) fn advertise_for(&self, bound: SocketAddr, interfaces: &[IpAddr]) -> SocketAddr {
        if let Some(addr) = self.advertise_addr {
            return addr;
        }
        if !bound.ip().is_unspecified() {
            return bound;
        }
        let ip = choose_advertise_ip(bound.ip(), interfaces).unwrap_or(match bound.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
        SocketAddr::new(ip, bound.port())
    }

    /// True when the address to advertise depends on the host's interface
    /// addresses: no explicit advertise address, and bound to an
    /// unspecified IP.
    pub(crate) fn needs_interfaces(&self, bound: SocketAddr) -> bool {
        self.advertise_addr.is_none() && bound.ip().is_unspecified()
    }

    /// The core's configuration, advertising `advertise`.
    pub(crate) fn core_config(&self, advertise: SocketAddr) -> Config {
        let mut config = Config::new(advertise);
        config.node_id = self.node_id.clone();
        config.generation = self.generation.unwrap_or_else(wall_clock_ms);
        config.gossip_interval = self.gossip_interval;
        config.gossip_fanout = self.gossip_fanout;
        config.max_packet_size = self.max_packet_size;
        config.suspicion_threshold = self.suspicion_threshold;
        config.compact_threshold = self.compact_threshold;
        config.node_expiry = self.node_expiry;
        config.dns_refresh_interval = self.dns_refresh_interval;
        config.stream_timeout = self.stream_timeout;
        config.limits = self.limits.clone();
        config.security = self.security.clone();
        config
    }
}

/// Milliseconds since the Unix epoch (0 for a clock set before it).
fn wall_clock_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// The IP to advertise when bound to the unspecified address `bind_ip`,
/// chosen among the host's interface addresses:
///
/// 1. never loopback, link-local (169.254/16, fe80::/10), unspecified or
///    multicast addresses, nor IPv6 ones when bound to `0.0.0.0` (an IPv4
///    socket cannot answer them);
/// 2. first a private IPv4 address (RFC 1918: 10/8, 172.16/12, 192.168/16),
///    then an IPv6 unique-local address (fc00::/7), then any other IPv4, then
///    any other IPv6 address;
/// 3. among equals, the first in `interfaces` (the OS's interface order).
///
/// Returns `None` when no address qualifies. On a host with several private
/// networks (Docker bridges, VPNs), set the advertise address explicitly.
///
/// ```
/// use kite_runtime::choose_advertise_ip;
///
/// let any: std::net::IpAddr = "0.0.0.0".parse().unwrap();
/// let ips = ["127.0.0.1", "169.254.3.4", "203.0.113.9", "10.1.2.3"].map(|s| s.parse().unwrap());
/// assert_eq!(choose_advertise_ip(any, &ips), Some("10.1.2.3".parse().unwrap()));
/// assert_eq!(choose_advertise_ip(any, &ips[..3]), Some("203.0.113.9".parse().unwrap()));
/// assert_eq!(choose_advertise_ip(any, &ips[..2]), None);
/// ```
pub fn choose_advertise_ip(bind_ip: IpAddr, interfaces: &[IpAddr]) -> Option<IpAddr> {
    let rank = |ip: &IpAddr| -> Option<u8> {
        match ip {
            IpAddr::V4(v4) => {
                let link_local = v4.is_link_local();
                if v4.is_loopback()
                    || link_local
                    || v4.is_unspecified()
                    || v4.is_multicast()
                    || v4.is_broadcast()
                {
                    None
                } else if v4.is_private() {
                    Some(0)
                } else {
                    Some(2)
                }
            }
            IpAddr::V6(v6) => {
                let segment = v6.segments()[0];
                let link_local = segment & 0xffc0 == 0xfe80;
                let unique_local = segment & 0xfe00 == 0xfc00;
                if bind_ip.is_ipv4()
                    || v6.is_loopback()
                    || link_local
                    || v6.is_unspecified()
                    || v6.is_multicast()
                {
                    None
                } else if unique_local {
                    Some(1)
                } else {
                    Some(3)
                }
            }
        }
    };
    interfaces
        .iter()
        .enumerate()
        .filter_map(|(i, ip)| rank(ip).map(|r| (r, i, *ip)))
        .min()
        .map(|(_, _, ip)| ip)
}

/// Why a node could not start.
#[derive(Debug)]
pub enum StartError {
    /// The core's configuration is invalid.
    Config(ConfigError),
    /// The explicit advertise address has an unspecified IP or port 0.
    AdvertiseAddr {
        /// The address given.
        addr: SocketAddr,
    },
    /// A socket could not be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// `"UDP"` or `"TCP"`.
        protocol: &'static str,
        /// The OS's error.
        source: std::io::Error,
    },
    /// The OS's random number generator failed while seeding the node.
    Entropy(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(err) => write!(f, "invalid configuration: {err}"),
            StartError::AdvertiseAddr { addr } => {
                write!(
                    f,
                    "advertise address {addr} needs a specific IP and a non-zero port"
                )
            }
            StartError::Bind {
                addr,
                protocol,
                source,
            } => {
                write!(f, "cannot bind {protocol} on {addr}: {source}")
            }
            StartError::Entropy(err) => write!(f, "the OS random number generator failed: {err}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Config(err) => Some(err),
            StartError::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ConfigError> for StartError {
    fn from(err: ConfigError) -> Self {
        StartError::Config(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn advertise_ip_prefers_private_then_unique_local_then_public() {
        let v4: IpAddr = "0.0.0.0".parse().unwrap();
        let v6: IpAddr = "::".parse().unwrap();
        let all = ips(&[
            "127.0.0.1",
            "fe80::1",
            "2001:db8::1",
            "fd00::5",
            "198.51.100.2",
            "192.168.1.5",
            "10.0.0.1",
        ]);
        assert_eq!(
            choose_advertise_ip(v4, &all),
            Some("192.168.1.5".parse().unwrap())
        );
        assert_eq!(
            choose_advertise_ip(v6, &all[..5]),
            Some("fd00::5".parse().unwrap())
        );
        assert_eq!(
            choose_advertise_ip(v6, &all[..4]),
            Some("fd00::5".parse().unwrap())
        );
        assert_eq!(
            choose_advertise_ip(v6, &all[..3]),
            Some("2001:db8::1".parse().unwrap())
        );
        // An IPv4 socket never advertises IPv6.
        assert_eq!(choose_advertise_ip(v4, &all[..4]), None);
        assert_eq!(
            choose_advertise_ip(v4, &ips(&["169.254.1.1", "224.0.0.1"])),
            None
        );
    }

    #[test]
    fn advertise_address_follows_explicit_then_bind_then_interfaces() {
        let interfaces = ips(&["127.0.0.1", "172.20.0.3"]);
        let settings = Options::new();
        let any: SocketAddr = "0.0.0.0:7000".parse().unwrap();
        assert_eq!(
            settings.advertise_for(any, &interfaces),
            "172.20.0.3:7000".parse().unwrap()
        );
        assert_eq!(
            settings.advertise_for(any, &[]),
            "127.0.0.1:7000".parse().unwrap()
        );
        let bound: SocketAddr = "127.0.0.9:7123".parse().unwrap();
        assert_eq!(settings.advertise_for(bound, &interfaces), bound);
        let explicit: SocketAddr = "203.0.113.1:9000".parse().unwrap();
        let settings = Options::new().advertise_addr(explicit);
        assert_eq!(settings.advertise_for(any, &interfaces), explicit);
        assert_eq!(settings.core_config(explicit).advertise_addr, explicit);
    }

    #[test]
    fn invalid_options_are_typed_errors() {
        let zero = Options::new().stream_timeout(Duration::ZERO).validate();
        assert!(matches!(
            zero,
            Err(StartError::Config(ConfigError::Interval {
                option: "stream_timeout",
                ..
            }))
        ));
        let packet = Options::new().max_packet_size(10).validate();
        assert!(matches!(
            packet,
            Err(StartError::Config(ConfigError::PacketSize { size: 10 }))
        ));
        let unspecified = Options::new()
            .advertise_addr("0.0.0.0:7000".parse().unwrap())
            .validate();
        assert!(matches!(unspecified, Err(StartError::AdvertiseAddr { .. })));
        let err = Options::new()
            .suspicion_threshold(-1.0)
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: suspicion_threshold -1 must be a finite number above zero"
        );
    }

    #[test]
    fn the_stream_timeout_is_the_cores() {
        let addr: SocketAddr = "127.0.0.9:7123".parse().unwrap();
        let options = Options::new();
        assert_eq!(options.stream_timeout, Config::new(addr).stream_timeout);
        assert_eq!(options.stream_timeout, DEFAULT_STREAM_TIMEOUT);
        let options = options.stream_timeout(Duration::from_millis(1500));
        assert_eq!(
            options.core_config(addr).stream_timeout,
            Duration::from_millis(1500)
        );
    }
}
