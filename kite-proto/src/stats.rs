//! Counters that adapters publish as metrics.

use crate::wire::Message;
use crate::wire::envelope::Rejection;

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
    /// Direct heartbeats carrying rumors (datagrams).
    pub liveness: u64,
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
            Message::Liveness { .. } => &mut self.liveness,
        };
        *counter += 1;
    }
}

/// Inputs refused before anything in them was decoded, by reason (see
/// [`wire::envelope::Rejection`](crate::wire::envelope::Rejection)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejections {
    /// Another cluster label, or none where we have one.
    pub label: u64,
    /// Sealed, but not authentic under the key its hint names (corrupted,
    /// tampered with, cut short).
    pub auth: u64,
    /// Sealed under a key that is not in our keyring.
    pub unknown_key: u64,
    /// Plaintext, refused in [`SecurityMode::Encrypted`](crate::SecurityMode::Encrypted).
    pub plaintext: u64,
}

impl Rejections {
    /// Every rejection, whatever its reason.
    pub fn total(&self) -> u64 {
        self.label + self.auth + self.unknown_key + self.plaintext
    }

    pub(crate) fn count(&mut self, rejection: Rejection) {
        let counter = match rejection {
            Rejection::Label => &mut self.label,
            Rejection::Auth => &mut self.auth,
            Rejection::UnknownKey => &mut self.unknown_key,
            Rejection::Plaintext => &mut self.plaintext,
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
    /// The largest datagram emitted, in bytes (envelope included).
    pub largest_datagram_out: u64,
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
    /// Gossip about an older generation of a node than one already seen
    /// (a late packet of a previous run of the same id), ignored.
    pub stale_generation: u64,
    /// Datagrams, stream requests and replies refused by their envelope
    /// (another label, failed authentication, an unknown key, plaintext
    /// where only sealed messages are taken); not in `decode_errors`.
    pub rejected: Rejections,
}
