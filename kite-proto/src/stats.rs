//! Counters that adapters publish as metrics.

/// Cumulative counters since the node started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed in.
    pub datagrams_in: u64,
    /// Bytes of datagrams handed in.
    pub datagram_bytes_in: u64,
    /// Datagrams emitted.
    pub datagrams_out: u64,
    /// Bytes of datagrams emitted.
    pub datagram_bytes_out: u64,
    /// Inbound stream requests handed in.
    pub stream_requests_in: u64,
    /// Bytes of inbound stream requests.
    pub stream_bytes_in: u64,
    /// Outbound stream requests emitted.
    pub stream_requests_out: u64,
    /// Bytes of outbound stream requests and replies sent.
    pub stream_bytes_out: u64,
    /// Outbound stream requests that failed (connect, timeout, bad reply).
    pub stream_failures: u64,
    /// Inputs that did not decode.
    pub decode_errors: u64,
    /// Messages of an unsupported protocol version (also in `decode_errors`).
    pub unsupported_version: u64,
    /// Well-formed messages ignored: our own, of the wrong kind for the
    /// channel, or naming unknown stream requests.
    pub ignored_messages: u64,
    /// Remote node updates dropped: over a limit, out of order, or for a
    /// node this node will not (re)admit.
    pub dropped_updates: u64,
}
