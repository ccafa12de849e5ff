//! Counters that adapters publish as metrics.

use crate::wire::Message;

/// Messages counted per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Digest requests (datagrams).
    pub digest_requests: u64,
    /// Digest responses (datagrams).
    pub digest_responses: u64,
    /// Deltas (datagrams).
    pub deltas: u64,
    /// Join requests (streams).
    pub join_requests: u64,
    /// Join responses (streams).
    pub join_responses: u64,
    /// State pushes and leave notifications (streams).
    pub pushes: u64,
    /// Push acknowledgements (streams).
    pub acks: u64,
}

impl MessageCounts {
    pub(crate) fn count(&mut self, msg: &Message) {
        let counter = match msg {
            Message::DigestRequest { .. } => &mut self.digest_requests,
            Message::DigestResponse { .. } => &mut self.digest_responses,
            Message::Delta { .. } => &mut self.deltas,
            Message::JoinRequest { .. } => &mut self.join_requests,
            Message::JoinResponse { .. } => &mut self.join_responses,
            Message::Push { .. } => &mut self.pushes,
            Message::Ack { .. } => &mut self.acks,
        };
        *counter += 1;
    }
}

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
    /// Valid messages received, per kind.
    pub messages_in: MessageCounts,
    /// Messages sent, per kind.
    pub messages_out: MessageCounts,
    /// Remote node updates dropped: over a limit, out of order, or for a
    /// node this node will not (re)admit.
    pub dropped_updates: u64,
}
