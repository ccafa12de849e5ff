//! Simulated hosts: each has a fixed virtual address (its [`HostId::addr`],
//! or one the test chose) and runs at most one
//! `kite_proto::Node` process at a time (a restart is a new process with a
//! new id on the same address, as when a pod IP is reused). Each host reads
//! its own clock ([`clock`]).

mod clock;

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::collections::BTreeMap;

use kite_proto::{Config, Node, NodeId, SeededRng, Timestamp};

use clock::HostClock;

/// The port every simulated node listens on.
pub const PORT: u16 = 7000;

const FIRST_IP: u32 = u32::from_be_bytes([127, 0, 0, 1]);

/// Names one simulated host, in the order hosts were added.
///
/// ```
/// use kite_sim::{HostId, Sim};
///
/// let mut sim = Sim::new(1);
/// let first = sim.add_node();
/// assert_eq!(first, HostId(0));
/// assert_eq!(first.addr().to_string(), "127.0.0.1:7000");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub usize);

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.0)
    }
}

impl HostId {
    /// The host's virtual IP: `127.0.0.1` for host 0, then counting up
    /// (`127.0.1.0` is host 255). Nothing ever touches a real socket.
    pub fn ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(FIRST_IP + self.0 as u32))
    }

    /// The host's gossip address: its IP and port 7000 (unless the host was
    /// added at an address of its own, see [`Sim::add_node_at`](crate::Sim::add_node_at)).
    pub fn addr(self) -> SocketAddr {
        SocketAddr::new(self.ip(), PORT)
    }

    /// The host at `addr`, if `addr` has the simulator's shape.
    fn of(addr: SocketAddr) -> Option<HostId> {
        match addr.ip() {
            IpAddr::V4(ip) if addr.port() == PORT => u32::from(ip)
                .checked_sub(FIRST_IP)
                .map(|i| HostId(i as usize)),
            _ => None,
        }
    }
}

/// One host and the process it runs.
struct Host {
    /// The configuration each new process starts from (node id unset); its
    /// `advertise_addr` is the host's address.
    config: Config,
    /// The host's own clock, which its processes read.
    clock: HostClock,
    /// The running process; `None` after a crash.
    node: Option<Node>,
    /// Bumped by every crash and restart, so replies and timers meant for an
    /// old process never reach a new one.
    incarnation: u32,
    /// Inputs arriving before this time wait (a GC-like pause).
    paused_until: Timestamp,
    /// The node timer currently scheduled, in the host's clock.
    timer: Option<Timestamp>,
    /// What the host last joined through, replayed on restart.
    join_targets: Vec<String>,
    /// The generation of the host's last process (see [`Hosts::start`]).
    generation: u64,
    /// The id of the host's last process.
    last_id: Option<NodeId>,
}

/// Every host, its configuration, clock and running process. Times passed
/// in are true times; the nodes only see their host's clock.
pub(crate) struct Hosts {
    hosts: Vec<Host>,
    /// Hosts added at an address the test chose instead of their
    /// [`HostId::addr`].
    chosen: BTreeMap<SocketAddr, HostId>,
    /// The run's seed, from which every process's RNG is derived.
    seed: u64,
    /// Applied to every host's configuration.
    configure: Box<dyn Fn(&mut Config)>,
    /// Largest clock rate error of new hosts (0: exact clocks).
    clock_drift: f64,
}

impl Hosts {
    pub(crate) fn new(seed: u64, configure: Box<dyn Fn(&mut Config)>, clock_drift: f64) -> Hosts {
        Hosts {
            hosts: Vec::new(),
            chosen: BTreeMap::new(),
            seed,
            configure,
            clock_drift,
        }
    }

    /// How many hosts there are.
    pub(crate) fn len(&self) -> usize {
        self.hosts.len()
    }

    /// The host at `addr`, if there is one.
    pub(crate) fn at(&self, addr: SocketAddr) -> Option<HostId> {
        if let Some(host) = self.chosen.get(&addr) {
            return Some(*host);
        }
        HostId::of(addr).filter(|h| h.0 < self.hosts.len() && self.addr(*h) == addr)
    }

    /// The address of `host`.
    pub(crate) fn addr(&self, host: HostId) -> SocketAddr {
        self.hosts[host.0].config.advertise_addr
    }

    /// The configuration every host starts from, before its address is set.
    pub(crate) fn base_config(&self) -> Config {
        let mut config = Config::default();
        (self.configure)(&mut config);
        config
    }

    /// Adds a host at `addr` (`None`: its [`HostId::addr`]) whose
    /// configuration is the base one, then `tweak`ed; a drifting clock is
    /// drawn from `rng`. No process runs on it yet.
    ///
    /// # Panics
    ///
    /// If another host has that address.
    pub(crate) fn add(
        &mut self,
        rng: &mut SeededRng,
        addr: Option<SocketAddr>,
        tweak: impl FnOnce(&mut Config),
    ) -> HostId {
        let host = HostId(self.hosts.len());
        let addr = addr.unwrap_or_else(|| host.addr());
        if let Some(other) = self.at(addr) {
            panic!("{addr} is already the address of {other}");
        }
        if addr != host.addr() {
            self.chosen.insert(addr, host);
        }
        let mut config = Config::new(addr);
        (self.configure)(&mut config);
        tweak(&mut config);
        config.advertise_addr = addr;
        let clock = match self.clock_drift {
            0.0 => HostClock::EXACT,
            max => HostClock::random(rng, max),
        };
        self.hosts.push(Host {
            config,
            clock,
            node: None,
            incarnation: 0,
            paused_until: Timestamp::ZERO,
            timer: None,
            join_targets: Vec::new(),
            generation: 0,
            last_id: None,
        });
        host
    }

    /// Starts a new process on `host` at true time `now` (after a crash, the
    /// incarnation already bumped by [`Hosts::renew`]).
    ///
    /// # Panics
    ///
    /// If the host's configuration is invalid.
    pub(crate) fn start(&mut self, host: HostId, now: Timestamp) -> &Node {
        let h = &mut self.hosts[host.0];
        let rng = SeededRng::from_seed_u64(node_seed(self.seed, host, h.incarnation));
        // As an adapter does with the wall clock: the host's clock in ms
        // since an epoch drawn from the seed, and above the last run's even
        // when a restart comes within the same millisecond.
        let local = h.clock.local(now);
        let epoch = EPOCH_MS + mix(self.seed) % EPOCH_SPREAD_MS;
        h.generation = (epoch + local.as_micros() / 1000).max(h.generation + 1);
        h.config.generation = h.generation;
        let node = match Node::new(h.config.clone(), rng, local) {
            Ok(node) => node,
            Err(err) => panic!("invalid configuration for {host}: {err}"),
        };
        h.timer = None;
        h.paused_until = now;
        h.last_id = Some(node.id().clone());
        h.node.insert(node)
    }

    /// Kills the process on `host`; false if none was running.
    pub(crate) fn crash(&mut self, host: HostId) -> bool {
        let h = &mut self.hosts[host.0];
        if h.node.take().is_none() {
            return false;
        }
        h.incarnation += 1;
        h.timer = None;
        true
    }

    /// Prepares `host` for a new process: a new incarnation and, unless
    /// `keep_id`, a new id (else the id of the process that ran last).
    pub(crate) fn renew(&mut self, host: HostId, keep_id: Option<NodeId>) {
        let h = &mut self.hosts[host.0];
        h.incarnation += 1;
        h.config.node_id = keep_id;
    }

    /// Stalls `host`'s process until at least `until`.
    pub(crate) fn pause(&mut self, host: HostId, until: Timestamp) {
        let h = &mut self.hosts[host.0];
        h.paused_until = h.paused_until.max(until);
    }

    /// The end of `host`'s current pause (in the past if it runs).
    pub(crate) fn paused_until(&self, host: HostId) -> Timestamp {
        self.hosts[host.0].paused_until
    }

    /// How long `host` waits for a stream exchange it asked for.
    pub(crate) fn stream_timeout(&self, host: HostId) -> Duration {
        self.hosts[host.0].config.stream_timeout
    }

    /// The running node of `host`.
    pub(crate) fn node(&self, host: HostId) -> Option<&Node> {
        self.hosts.get(host.0).and_then(|h| h.node.as_ref())
    }

    /// The running node of `host`, to hand it an input.
    pub(crate) fn node_mut(&mut self, host: HostId) -> Option<&mut Node> {
        self.hosts.get_mut(host.0).and_then(|h| h.node.as_mut())
    }

    /// Running and not left: a member the cluster should agree on.
    pub(crate) fn is_live(&self, host: HostId) -> bool {
        self.node(host).is_some_and(|n| !n.has_left())
    }

    /// The incarnation of `host`'s current (or next) process.
    pub(crate) fn incarnation(&self, host: HostId) -> u32 {
        self.hosts[host.0].incarnation
    }

    /// What `host`'s clock reads at true time `now`.
    pub(crate) fn local_now(&self, host: HostId, now: Timestamp) -> Timestamp {
        self.hosts[host.0].clock.local(now)
    }

    /// The largest datagram `host` may send.
    pub(crate) fn max_packet_size(&self, host: HostId) -> usize {
        self.hosts[host.0].config.max_packet_size
    }

    /// The id of the process `host` ran last, if any.
    pub(crate) fn last_id(&self, host: HostId) -> Option<NodeId> {
        self.hosts[host.0].last_id.clone()
    }

    /// The join targets `host` last joined through.
    pub(crate) fn join_targets(&self, host: HostId) -> &[String] {
        &self.hosts[host.0].join_targets
    }

    /// Records what `host` joined through, to join again on restart.
    pub(crate) fn set_join_targets(&mut self, host: HostId, targets: Vec<String>) {
        self.hosts[host.0].join_targets = targets;
    }

    /// `host`'s node asked to be woken at `at` (its clock). If that is a new
    /// deadline, returns the true time to wake it (not before `now`) and the
    /// incarnation the wake-up is for.
    pub(crate) fn set_timer(
        &mut self,
        host: HostId,
        at: Timestamp,
        now: Timestamp,
    ) -> Option<(Timestamp, u32)> {
        let h = &mut self.hosts[host.0];
        if h.timer == Some(at) {
            return None;
        }
        h.timer = Some(at);
        Some((h.clock.global(at).max(now), h.incarnation))
    }

    /// A wake-up for deadline `at` of process `incarnation` is due: true if
    /// it is still the deadline in force, which is then cleared.
    pub(crate) fn take_timer(&mut self, host: HostId, incarnation: u32, at: Timestamp) -> bool {
        let h = &mut self.hosts[host.0];
        if h.incarnation != incarnation || h.timer != Some(at) {
            return false;
        }
        h.timer = None;
        true
    }

    /// The deadline in force on `host`, in its clock.
    pub(crate) fn timer(&self, host: HostId) -> Option<Timestamp> {
        self.hosts[host.0].timer
    }
}

/// A node's RNG seed: a mix of the run's seed, the host and the
/// incarnation, so adding a host never changes another host's draws.
/// The simulated wall-clock time at which a seed's run starts, in ms since
/// the Unix epoch (late 2023), plus up to [`EPOCH_SPREAD_MS`].
const EPOCH_MS: u64 = 1_700_000_000_000;
/// How far apart (about a year) the start times of different seeds are.
const EPOCH_SPREAD_MS: u64 = 1 << 35;

fn node_seed(seed: u64, host: HostId, incarnation: u32) -> u64 {
    let mut x = seed ^ mix(host.0 as u64 + 1) ^ mix(u64::from(incarnation) << 40 | 0xabcd);
    x = mix(x);
    x
}

/// The splitmix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_back_to_hosts() {
        for i in [0, 1, 254, 255, 256, 70_000] {
            let h = HostId(i);
            assert_eq!(HostId::of(h.addr()), Some(h));
        }
        assert_eq!(HostId(0).addr().to_string(), "127.0.0.1:7000");
        assert_eq!(HostId(255).ip().to_string(), "127.0.1.0");
        assert_eq!(HostId::of("127.0.0.1:7001".parse().unwrap()), None);
        assert_eq!(HostId::of("10.0.0.1:7000".parse().unwrap()), None);
    }

    #[test]
    fn hosts_at_chosen_addresses_map_back_and_free_their_default() {
        let mut hosts = Hosts::new(1, Box::new(|_| {}), 0.0);
        let mut rng = SeededRng::from_seed_u64(1);
        let v6: SocketAddr = "[fd00::1]:65535".parse().unwrap();
        let a = hosts.add(&mut rng, Some(v6), |_| {});
        let b = hosts.add(&mut rng, None, |_| {});
        assert_eq!((hosts.addr(a), hosts.at(v6)), (v6, Some(a)));
        assert_eq!((hosts.addr(b), hosts.at(b.addr())), (b.addr(), Some(b)));
        assert_eq!(hosts.at(a.addr()), None);
    }
}
