//! The options of a node run by an adapter, their validation, and the choice
//! of the address it advertises.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::sync::Arc;

use super::Watcher;
use crate::config::{Config, Limits};
use crate::error::ConfigError;
use crate::id::NodeId;

/// Default stream timeout (connect, write and read each).
pub const DEFAULT_STREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything that configures a node run by an adapter (`kite-tokio`,
/// `kite-async-std`): the core's [`Config`] plus the adapter-level options.
/// Every option has the documented default; set only what you need.
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
/// | [`watcher`](Options::watcher) | none |
///
/// ```
/// use core::time::Duration;
/// use kite_proto::driver::Options;
///
/// let settings = Options::new()
///     .bind_addr("127.0.0.1:7000".parse().unwrap())
///     .gossip_interval(Duration::from_millis(100))
///     .watcher(|event: &kite_proto::Event| println!("{event:?}"))
///     .validate()?;
/// assert_eq!(settings.config.max_packet_size, 1400);
/// assert_eq!(settings.stream_timeout, Duration::from_secs(10));
/// # Ok::<(), kite_proto::driver::StartError>(())
/// ```
#[derive(Clone)]
pub struct Options {
    settings: Settings,
}

/// Validated [`Options`], as an adapter reads them.
#[derive(Clone)]
pub struct Settings {
    /// The core's configuration. Its `advertise_addr` is a placeholder until
    /// the adapter has bound its sockets (see [`Settings::core_config`]).
    pub config: Config,
    /// Where to bind UDP and TCP.
    pub bind_addr: SocketAddr,
    /// The address to advertise, if set explicitly.
    pub advertise_addr: Option<SocketAddr>,
    /// Timeout of each of connect, write and read on a stream.
    pub stream_timeout: Duration,
    /// DNS servers to ask (`ip:port`); empty means the system configuration.
    pub name_servers: Vec<SocketAddr>,
    /// Told of every event.
    pub watchers: Vec<Arc<dyn Watcher>>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.settings, f)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("config", &self.config)
            .field("bind_addr", &self.bind_addr)
            .field("advertise_addr", &self.advertise_addr)
            .field("stream_timeout", &self.stream_timeout)
            .field("name_servers", &self.name_servers)
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
    /// The defaults.
    pub fn new() -> Self {
        Options {
            settings: Settings {
                config: Config::default(),
                bind_addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 7000)),
                advertise_addr: None,
                stream_timeout: DEFAULT_STREAM_TIMEOUT,
                name_servers: Vec::new(),
                watchers: Vec::new(),
            },
        }
    }

    /// This node's id (default: 9 random characters; a restarted process
    /// should take a new id).
    pub fn node_id(mut self, id: NodeId) -> Self {
        self.settings.config.node_id = Some(id);
        self
    }

    /// Where UDP and TCP are bound (the same port for both). Port 0 takes a
    /// free port, which is then advertised.
    pub fn bind_addr(mut self, addr: SocketAddr) -> Self {
        self.settings.bind_addr = addr;
        self
    }

    /// The address other nodes reach this node at, when it differs from the
    /// bind address (behind NAT, in a container).
    pub fn advertise_addr(mut self, addr: SocketAddr) -> Self {
        self.settings.advertise_addr = Some(addr);
        self
    }

    /// Time between gossip rounds.
    pub fn gossip_interval(mut self, interval: Duration) -> Self {
        self.settings.config.gossip_interval = interval;
        self
    }

    /// Live peers gossiped with per round.
    pub fn gossip_fanout(mut self, fanout: usize) -> Self {
        self.settings.config.gossip_fanout = fanout;
        self
    }

    /// Largest datagram sent (any datagram up to 64 KiB is received).
    pub fn max_packet_size(mut self, size: usize) -> Self {
        self.settings.config.max_packet_size = size;
        self
    }

    /// Timeout applied to each of connect, write and read on a stream.
    pub fn stream_timeout(mut self, timeout: Duration) -> Self {
        self.settings.stream_timeout = timeout;
        self
    }

    /// Phi above which a node is reported down (see [`Config::suspicion_threshold`]).
    pub fn suspicion_threshold(mut self, threshold: f64) -> Self {
        self.settings.config.suspicion_threshold = threshold;
        self
    }

    /// Number of local deleted keys that triggers compaction.
    pub fn compact_threshold(mut self, threshold: usize) -> Self {
        self.settings.config.compact_threshold = threshold;
        self
    }

    /// How long a left or down node is kept before it is removed.
    pub fn node_expiry(mut self, expiry: Duration) -> Self {
        self.settings.config.node_expiry = expiry;
        self
    }

    /// How often joined domain names are resolved again.
    pub fn dns_refresh_interval(mut self, interval: Duration) -> Self {
        self.settings.config.dns_refresh_interval = interval;
        self
    }

    /// DNS servers (`ip:port`) to use instead of the system configuration.
    pub fn name_servers(mut self, servers: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.settings.name_servers = servers.into_iter().collect();
        self
    }

    /// Size limits on keys, values, state and frames.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.settings.config.limits = limits;
        self
    }

    /// Adds a watcher, told of every event (see [`Watcher`]).
    pub fn watcher(mut self, watcher: impl Watcher + 'static) -> Self {
        self.settings.watchers.push(Arc::new(watcher));
        self
    }

    /// Checks the options before anything is bound.
    pub fn validate(self) -> Result<Settings, StartError> {
        let settings = self.settings;
        settings.config.validate()?;
        if settings.stream_timeout.is_zero() {
            return Err(StartError::ZeroStreamTimeout);
        }
        if let Some(addr) = settings.advertise_addr
            && (addr.ip().is_unspecified() || addr.port() == 0)
        {
            return Err(StartError::AdvertiseAddr { addr });
        }
        Ok(settings)
    }
}

impl Settings {
    /// The address to advertise once the sockets are bound at `bound` (the
    /// real port when 0 was asked for), given the host's interface addresses
    /// (see [`choose_advertise_ip`]). Without a usable interface address the
    /// loopback address is advertised, so only nodes on this host can reach it.
    pub fn advertise_for(&self, bound: SocketAddr, interfaces: &[IpAddr]) -> SocketAddr {
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
    pub fn needs_interfaces(&self, bound: SocketAddr) -> bool {
        self.advertise_addr.is_none() && bound.ip().is_unspecified()
    }

    /// The core's configuration, advertising `advertise`.
    pub fn core_config(&self, advertise: SocketAddr) -> Config {
        Config {
            advertise_addr: advertise,
            ..self.config.clone()
        }
    }
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
/// use kite_proto::driver::choose_advertise_ip;
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
    /// `stream_timeout` is zero.
    ZeroStreamTimeout,
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
            StartError::ZeroStreamTimeout => f.write_str("stream_timeout must be above zero"),
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
        let settings = Options::new().validate().unwrap();
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
        let settings = Options::new().advertise_addr(explicit).validate().unwrap();
        assert_eq!(settings.advertise_for(any, &interfaces), explicit);
        assert_eq!(settings.core_config(explicit).advertise_addr, explicit);
    }

    #[test]
    fn invalid_options_are_typed_errors() {
        let zero = Options::new().stream_timeout(Duration::ZERO).validate();
        assert!(matches!(zero, Err(StartError::ZeroStreamTimeout)));
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
}
