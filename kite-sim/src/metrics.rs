//! Counters the simulator keeps about the network and each host, read by
//! tests and by the report.

/// Traffic one host sent, across all its processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCounters {
    /// Datagrams emitted.
    pub datagrams: u64,
    /// Bytes of datagrams emitted.
    pub datagram_bytes: u64,
    /// The largest datagram emitted.
    pub largest_datagram: usize,
    /// Stream requests opened.
    pub streams: u64,
    /// Bytes of stream requests and replies sent.
    pub stream_bytes: u64,
}

/// Counters of the whole simulated network.
///
/// ```
/// use kite_sim::Sim;
///
/// let sim = Sim::new(1);
/// assert_eq!(sim.metrics().datagrams(), 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Per host, indexed by [`crate::HostId`].
    pub hosts: Vec<HostCounters>,
    /// Datagrams lost to link loss.
    pub lost: u64,
    /// Datagrams dropped by a partition.
    pub partitioned: u64,
    /// Datagrams to an address with no running process.
    pub undeliverable: u64,
    /// Datagrams over the network's size limit (each also fails the run).
    pub oversize: u64,
    /// Extra copies delivered by duplication.
    pub duplicated: u64,
    /// Datagrams delivered to a process.
    pub delivered: u64,
    /// Stream requests refused (no process at the address).
    pub streams_refused: u64,
    /// Stream requests that timed out.
    pub streams_timed_out: u64,
    /// DNS lookups answered.
    pub resolutions: u64,
    /// Events emitted by all nodes.
    pub events: u64,
}

impl Metrics {
    /// Datagrams emitted by all hosts.
    pub fn datagrams(&self) -> u64 {
        self.hosts.iter().map(|h| h.datagrams).sum()
    }

    /// Bytes of datagrams emitted by all hosts.
    pub fn datagram_bytes(&self) -> u64 {
        self.hosts.iter().map(|h| h.datagram_bytes).sum()
    }

    /// The largest datagram any host emitted.
    pub fn largest_datagram(&self) -> usize {
        self.hosts
            .iter()
            .map(|h| h.largest_datagram)
            .max()
            .unwrap_or(0)
    }

    /// Stream requests opened by all hosts.
    pub fn streams(&self) -> u64 {
        self.hosts.iter().map(|h| h.streams).sum()
    }

    /// Bytes sent over streams by all hosts.
    pub fn stream_bytes(&self) -> u64 {
        self.hosts.iter().map(|h| h.stream_bytes).sum()
    }
}
