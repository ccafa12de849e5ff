//! The wire format: a two-byte header (protocol version, message type)
//! followed by the postcard encoding of the message body.
//!
//! | type | message | carried by |
//! | --- | --- | --- |
//! | 1 | [`Message::DigestRequest`] | datagram |
//! | 2 | [`Message::DigestResponse`] | datagram |
//! | 3 | [`Message::Delta`] | datagram |
//! | 4 | [`Message::JoinRequest`] | stream request |
//! | 5 | [`Message::JoinResponse`] | stream reply |
//! | 6 | [`Message::Push`] (state push; a leave notification is a push carrying the left marker) | stream request |
//! | 7 | [`Message::Ack`] | stream reply |
//!
//! Decoding is total: every byte string gives a message or a
//! [`DecodeError`], and no allocation is larger than the input justifies
//! (sequences are never pre-allocated from a length read off the wire beyond
//! a small constant). Stream messages travel in [`frame`]s.
//!
//! ```
//! use kite_proto::wire::{self, Digest, Message};
//!
//! let msg = Message::DigestRequest { from: "a".parse()?, digest: Digest::default() };
//! let bytes = wire::encode(&msg);
//! assert_eq!(&bytes[..2], &[wire::PROTOCOL_VERSION, 1]);
//! assert_eq!(wire::decode(&bytes), Ok(msg));
//! assert!(wire::decode(&[9, 1]).is_err());
//! # Ok::<(), kite_proto::NodeIdError>(())
//! ```

mod addr;
mod bounded;
pub mod frame;
pub(crate) mod size;

use core::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::id::NodeId;

/// The protocol version this build speaks; other versions are rejected.
pub const PROTOCOL_VERSION: u8 = 1;

/// Length of the header in front of every message.
pub const HEADER_LEN: usize = 2;

/// One node as listed in a digest: what the receiver needs to compare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct DigestEntry {
    /// The node.
    pub id: NodeId,
    /// The highest heartbeat the sender has seen from it; 0 means the sender
    /// knows only the id and asks for the whole state.
    pub heartbeat: u64,
    /// The highest state version the sender holds for it.
    pub version: u64,
}

/// A digest: the nodes the sender knows, shuffled and truncated to fit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Digest {
    /// True when every node the sender knows is listed, so a node missing
    /// from the list is one the sender lacks.
    pub complete: bool,
    /// The listed nodes.
    #[serde(deserialize_with = "bounded::vec")]
    pub entries: Vec<DigestEntry>,
}

/// What one versioned update of a node's state does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum UpdateKind {
    /// Sets `key` to `value`.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Deletes `key` (a tombstone).
    Delete {
        /// The key.
        key: String,
    },
    /// The node left the cluster gracefully (internal).
    Left,
    /// The node compacted its state: drop every entry at or below `floor`
    /// (internal).
    Compacted {
        /// The highest version dropped.
        floor: u64,
    },
}

/// One update of a node's state, stamped with the version it created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Update {
    /// The node's version after this update.
    pub version: u64,
    /// What changed.
    pub kind: UpdateKind,
}

/// The updates of one node the receiver lacks, in version order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct NodeDelta {
    /// The node.
    pub id: NodeId,
    /// Its gossip address.
    #[serde(with = "addr")]
    pub addr: SocketAddr,
    /// The highest heartbeat the sender has seen from it.
    pub heartbeat: u64,
    /// The receiver's version the updates continue from: every update the
    /// node made after `from_version` is in `updates`, or a prefix of them.
    pub from_version: u64,
    /// The updates, versions strictly increasing.
    #[serde(deserialize_with = "bounded::vec")]
    pub updates: Vec<Update>,
}

/// State the receiver lacks, most out-of-date node first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Delta {
    /// Per-node updates.
    #[serde(deserialize_with = "bounded::vec")]
    pub nodes: Vec<NodeDelta>,
}

/// Every message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum Message {
    /// Opens a gossip exchange: what the sender knows.
    DigestRequest {
        /// The sender.
        from: NodeId,
        /// Its digest.
        digest: Digest,
    },
    /// Answers a digest: what the requester lacks, and what the responder knows.
    DigestResponse {
        /// The sender.
        from: NodeId,
        /// State the requester lacks.
        delta: Delta,
        /// The responder's digest.
        digest: Digest,
    },
    /// Closes a gossip exchange: what the responder lacks.
    Delta {
        /// The sender.
        from: NodeId,
        /// State the receiver lacks.
        delta: Delta,
    },
    /// A joining node's full local state and what it knows (stream request).
    JoinRequest {
        /// The joining node.
        from: NodeId,
        /// Its local state.
        delta: Delta,
        /// Every node it knows.
        digest: Digest,
    },
    /// What a joining node lacks (stream reply).
    JoinResponse {
        /// The contacted node.
        from: NodeId,
        /// State the joiner lacks.
        delta: Delta,
    },
    /// State pushed over a stream because it did not fit a datagram, or a
    /// leave notification (stream request).
    Push {
        /// The sender.
        from: NodeId,
        /// State the receiver lacks.
        delta: Delta,
    },
    /// Acknowledges a push (stream reply).
    Ack {
        /// The receiver of the push.
        from: NodeId,
    },
}

impl Message {
    /// The type byte of this message.
    pub fn type_byte(&self) -> u8 {
        match self {
            Message::DigestRequest { .. } => 1,
            Message::DigestResponse { .. } => 2,
            Message::Delta { .. } => 3,
            Message::JoinRequest { .. } => 4,
            Message::JoinResponse { .. } => 5,
            Message::Push { .. } => 6,
            Message::Ack { .. } => 7,
        }
    }

    /// True for the messages that travel as datagrams.
    pub fn is_datagram(&self) -> bool {
        self.type_byte() <= 3
    }

    /// The sender's id.
    pub fn from(&self) -> &NodeId {
        match self {
            Message::DigestRequest { from, .. }
            | Message::DigestResponse { from, .. }
            | Message::Delta { from, .. }
            | Message::JoinRequest { from, .. }
            | Message::JoinResponse { from, .. }
            | Message::Push { from, .. }
            | Message::Ack { from } => from,
        }
    }
}

/// Encodes `msg` with its header.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut out = vec![PROTOCOL_VERSION, msg.type_byte()];
    let body = match msg {
        Message::DigestRequest { from, digest } => postcard::to_extend(&(from, digest), out),
        Message::DigestResponse {
            from,
            delta,
            digest,
        } => postcard::to_extend(&(from, delta, digest), out),
        Message::Delta { from, delta }
        | Message::JoinResponse { from, delta }
        | Message::Push { from, delta } => postcard::to_extend(&(from, delta), out),
        Message::JoinRequest {
            from,
            delta,
            digest,
        } => postcard::to_extend(&(from, delta, digest), out),
        Message::Ack { from } => postcard::to_extend(&from, out),
    };
    out = body.unwrap_or_else(|_| unreachable!("encoding into a Vec cannot fail"));
    out
}

/// Decodes one message (header and body) from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let [version, kind, body @ ..] = bytes else {
        return Err(DecodeError::TooShort);
    };
    if *version != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion(*version));
    }
    match kind {
        1 => body_of(body).map(|(from, digest)| Message::DigestRequest { from, digest }),
        2 => body_of(body).map(|(from, delta, digest)| Message::DigestResponse {
            from,
            delta,
            digest,
        }),
        3 => body_of(body).map(|(from, delta)| Message::Delta { from, delta }),
        4 => body_of(body).map(|(from, delta, digest)| Message::JoinRequest {
            from,
            delta,
            digest,
        }),
        5 => body_of(body).map(|(from, delta)| Message::JoinResponse { from, delta }),
        6 => body_of(body).map(|(from, delta)| Message::Push { from, delta }),
        7 => body_of(body).map(|from| Message::Ack { from }),
        other => Err(DecodeError::UnknownType(*other)),
    }
}

fn body_of<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes(body).map_err(|_| DecodeError::Malformed)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::TrailingBytes)
    }
}
