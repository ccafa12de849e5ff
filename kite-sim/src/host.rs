//! Simulated hosts: each has a fixed virtual address and runs at most one
//! `kite_proto::Node` process at a time (a restart is a new process with a
//! new id on the same address, as when a pod IP is reused).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use kite_proto::{Config, Node, Timestamp};

use crate::drift::HostClock;

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

    /// The host's gossip address: its IP and port 7000.
    pub fn addr(self) -> SocketAddr {
        SocketAddr::new(self.ip(), PORT)
    }

    /// The host at `addr`, if `addr` has the simulator's shape.
    pub(crate) fn of(addr: SocketAddr) -> Option<HostId> {
        match addr.ip() {
            IpAddr::V4(ip) if addr.port() == PORT => u32::from(ip)
                .checked_sub(FIRST_IP)
                .map(|i| HostId(i as usize)),
            _ => None,
        }
    }
}

/// One host and the process it runs.
pub(crate) struct Host {
    /// The configuration each new process starts from (node id unset).
    pub(crate) config: Config,
    /// The host's own clock, which its processes read.
    pub(crate) clock: HostClock,
    /// The running process; `None` after a crash.
    pub(crate) node: Option<Node>,
    /// Bumped by every crash and restart, so replies and timers meant for an
    /// old process never reach a new one.
    pub(crate) incarnation: u32,
    /// Inputs arriving before this time wait (a GC-like pause).
    pub(crate) paused_until: Timestamp,
    /// The node timer currently scheduled.
    pub(crate) timer: Option<Timestamp>,
    /// What the host last joined through, replayed on restart.
    pub(crate) join_targets: Vec<String>,
}

impl Host {
    /// Running and not left: a member the cluster should agree on.
    pub(crate) fn is_live(&self) -> bool {
        self.node.as_ref().is_some_and(|n| !n.has_left())
    }
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
}
