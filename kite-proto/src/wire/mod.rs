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
//! | 8 | [`Message::Liveness`] (a direct heartbeat, with rumors) | datagram |
//!
//! Decoding is total: every byte string gives a message or a
//! [`DecodeError`], and no allocation is larger than the input justifies
//! (sequences are never pre-allocated from a length read off the wire beyond
//! a small constant). Stream messages travel in [`frame`]s. Every datagram
//! and frame body is a message in an [`envelope`]: the message alone by
//! default, behind a cluster label if one is set, or sealed with
//! authenticated encryption (see [`Security`](crate::Security)).
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
pub mod envelope;
pub mod frame;
pub(crate) mod size;

use core::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::id::NodeId;

/// The protocol version this build speaks; other versions are rejected.
pub const PROTOCOL_VERSION: u8 = 3;

/// Length of the header in front of every message.
pub const HEADER_LEN: usize = 2;

/// Bits of a generation kept in a [`RunTag`](run_tag).
pub const RUN_TAG_BITS: u32 = 14;

/// The short tag of a node's run that digest entries and direct heartbeats
/// carry instead of the whole generation: its low [`RUN_TAG_BITS`] bits (at
/// most 2 bytes on the wire, against about 6 for a generation in
/// milliseconds). Equal tags mean the same run, up to a 1 in 16,384 chance
/// for two runs of one id; a tag says nothing of which run is later, so a
/// mismatch only makes the two sides exchange the node's whole state, whose
/// delta carries the whole generation and settles it.
///
/// ```
/// use kite_proto::wire::run_tag;
///
/// assert_eq!(run_tag(1_764_700_000_000), run_tag(1_764_700_000_000));
/// assert_ne!(run_tag(1_764_700_000_000), run_tag(1_764_700_000_001));
/// assert!(run_tag(u64::MAX) < 1 << 14);
/// ```
pub fn run_tag(generation: u64) -> u16 {
    (generation & ((1 << RUN_TAG_BITS) - 1)) as u16
}

/// One node as listed in a digest: what the receiver needs to compare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct DigestEntry {
    /// The node.
    pub id: NodeId,
    /// Which run of it the heartbeat and version belong to: the [`run_tag`]
    /// of its generation (see [`Config::generation`](crate::Config::generation)).
    pub run: u16,
    /// The highest heartbeat the sender has seen from it; 0 means the sender
    /// knows only the id and asks for the whole state.
    pub heartbeat: u64,
    /// The highest state version the sender holds for it.
    pub version: u64,
}

/// A digest: the nodes the sender knows, shuffled and truncated to fit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
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
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
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
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Update {
    /// The node's version after this update.
    pub version: u64,
    /// What changed.
    pub kind: UpdateKind,
}

/// The updates of one node the receiver lacks, in version order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct NodeDelta {
    /// The node.
    pub id: NodeId,
    /// Which run of it the heartbeat and updates belong to.
    pub generation: u64,
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
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Delta {
    /// Per-node updates.
    #[serde(deserialize_with = "bounded::vec")]
    pub nodes: Vec<NodeDelta>,
}

/// News about one node's liveness, spread by rumor mongering: piggybacked on
/// [`Message::Liveness`] datagrams and forwarded by every node that learns
/// it, a bounded number of times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Rumor {
    /// The node the news is about.
    pub id: NodeId,
    /// Which run of it the news is about.
    pub generation: u64,
    /// Its heartbeat the news refers to.
    pub heartbeat: u64,
    /// What the news is.
    pub kind: RumorKind,
}

/// What a [`Rumor`] says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum RumorKind {
    /// One of the node's monitors has heard nothing from it since
    /// `heartbeat`; enough such suspicions make it down everywhere.
    Suspect {
        /// The monitor.
        by: NodeId,
    },
    /// The node is alive at `heartbeat`: a refutation by the node itself,
    /// or a recovery seen by another.
    Alive,
}

/// Every message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
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
    /// A joining node's full local state and what it knows (stream request);
    /// also what a node sends for a periodic full sync in a cluster larger
    /// than a datagram digest lists.
    JoinRequest {
        /// The joining node.
        from: NodeId,
        /// Its local state.
        delta: Delta,
        /// Every node it knows.
        digest: Digest,
    },
    /// What a joining (or syncing) node lacks (stream reply).
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
    /// A direct heartbeat (datagram): sent every round to the sender's
    /// monitors, and to a random peer while there are rumors to spread.
    Liveness {
        /// The sender.
        from: NodeId,
        /// The [`run_tag`] of the sender's generation (which run of it this is).
        run: u16,
        /// Its current heartbeat.
        heartbeat: u64,
        /// Whether the receiver is one of the sender's monitors (`false`
        /// also releases a former monitor).
        monitor: bool,
        /// Rumors to spread.
        rumors: Vec<Rumor>,
        /// Recent small updates of some nodes, pushed eagerly so they reach
        /// every node in about log N rounds (anti-entropy still brings
        /// whatever this misses). A node that just joined sends its own
        /// state from its first version: receivers that do not know it
        /// admit it.
        news: Vec<NodeDelta>,
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
            Message::Liveness { .. } => 8,
        }
    }

    /// True for the messages that travel as datagrams.
    pub fn is_datagram(&self) -> bool {
        matches!(self.type_byte(), 1..=3 | 8)
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
            | Message::Ack { from }
            | Message::Liveness { from, .. } => from,
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
        Message::Liveness {
            from,
            run,
            heartbeat,
            monitor,
            rumors,
            news,
        } => postcard::to_extend(&(from, run, heartbeat, monitor, rumors, news), out),
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
        8 => body_of(body).map(
            |(from, run, heartbeat, monitor, rumors, news): (_, _, _, _, Rumors, News)| {
                Message::Liveness {
                    from,
                    run,
                    heartbeat,
                    monitor,
                    rumors: rumors.0,
                    news: news.0,
                }
            },
        ),
        other => Err(DecodeError::UnknownType(*other)),
    }
}

/// The rumors of a [`Message::Liveness`] as they decode: a sequence read
/// without trusting its announced length.
#[derive(Deserialize)]
struct Rumors(#[serde(deserialize_with = "bounded::vec")] Vec<Rumor>);

/// The news of a [`Message::Liveness`] as they decode, likewise.
#[derive(Deserialize)]
struct News(#[serde(deserialize_with = "bounded::vec")] Vec<NodeDelta>);

fn body_of<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes(body).map_err(|_| DecodeError::Malformed)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::TrailingBytes)
    }
}
