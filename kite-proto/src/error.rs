//! Every error a user or the network can cause, each with a clear message.

use core::fmt;

/// A node id that is not 1 to 64 bytes long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeIdError {
    /// The id is empty.
    Empty,
    /// The id is longer than [`crate::MAX_NODE_ID_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for NodeIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeIdError::Empty => f.write_str("node id is empty"),
            NodeIdError::TooLong { len } => write!(
                f,
                "node id is {len} bytes long, the limit is {}",
                crate::MAX_NODE_ID_LEN
            ),
        }
    }
}

impl std::error::Error for NodeIdError {}

/// A [`crate::Config`] that cannot work.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// `max_packet_size` is outside `MIN_PACKET_SIZE..=MAX_PACKET_SIZE`.
    PacketSize {
        /// The configured size.
        size: usize,
    },
    /// A duration option is outside the range it can work in (see
    /// [`crate::Config::validate`]).
    Interval {
        /// The option's name.
        option: &'static str,
        /// The configured value.
        value: core::time::Duration,
        /// The accepted range, for the message.
        range: &'static str,
    },
    /// `gossip_fanout` is zero.
    ZeroFanout,
    /// `suspicion_threshold` is not a finite number above zero.
    SuspicionThreshold {
        /// The configured threshold.
        threshold: f64,
    },
    /// `compact_threshold` is zero.
    ZeroCompactThreshold,
    /// `max_frame_len` cannot hold one node's largest state.
    FrameTooSmall {
        /// The configured frame limit.
        max_frame_len: usize,
        /// The smallest frame limit that works with the other limits.
        needed: usize,
    },
    /// A key or value length limit is zero, or a value could never fit the
    /// per-node state limit.
    Limits {
        /// What is wrong.
        reason: &'static str,
    },
    /// The cluster label is longer than
    /// [`MAX_LABEL_LEN`](crate::security::MAX_LABEL_LEN).
    LabelTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A security mode that seals messages, with no key to seal them.
    NoKey {
        /// The configured mode.
        mode: crate::SecurityMode,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::PacketSize { size } => write!(
                f,
                "max_packet_size {size} is outside {}..={} bytes",
                crate::MIN_PACKET_SIZE,
                crate::MAX_PACKET_SIZE
            ),
            ConfigError::Interval {
                option,
                value,
                range,
            } => write!(f, "{option} of {value:?} is outside {range}"),
            ConfigError::ZeroFanout => f.write_str("gossip_fanout must be at least 1"),
            ConfigError::SuspicionThreshold { threshold } => write!(
                f,
                "suspicion_threshold {threshold} must be a finite number above zero"
            ),
            ConfigError::ZeroCompactThreshold => {
                f.write_str("compact_threshold must be at least 1")
            }
            ConfigError::FrameTooSmall {
                max_frame_len,
                needed,
            } => write!(
                f,
                "max_frame_len {max_frame_len} cannot carry one node's full state; it must be at least {needed}"
            ),
            ConfigError::Limits { reason } => write!(f, "invalid limits: {reason}"),
            ConfigError::LabelTooLong { len } => write!(
                f,
                "the cluster label is {len} bytes long, the limit is {}",
                crate::security::MAX_LABEL_LEN
            ),
            ConfigError::NoKey { mode } => {
                write!(
                    f,
                    "security mode {mode:?} seals messages but no key is given"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A local write that was refused. The rules for keys and values are
/// listed once, on [`Limits`](crate::Limits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalStateError {
    /// The key is empty.
    EmptyKey,
    /// The key is longer than `limits.max_key_len`.
    KeyTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value is longer than `limits.max_value_len`.
    ValueTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The write would take the node's state over `limits.max_node_state_bytes`.
    StateTooLarge {
        /// The size the state would have.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The node has left the cluster; its state is frozen.
    Left,
    /// The node was shut down (adapters only).
    Stopped,
}

impl fmt::Display for LocalStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalStateError::KeyTooLong { len, max } => {
                write!(f, "key is {len} bytes long, the limit is {max}")
            }
            LocalStateError::ValueTooLong { len, max } => {
                write!(f, "value is {len} bytes long, the limit is {max}")
            }
            LocalStateError::StateTooLarge { size, max } => write!(
                f,
                "the write would make the local state {size} bytes, the limit is {max}"
            ),
            LocalStateError::EmptyKey => f.write_str("a key must not be empty"),
            LocalStateError::Left => {
                f.write_str("the node has left the cluster; local state can no longer change")
            }
            LocalStateError::Stopped => {
                f.write_str("the node was shut down; local state can no longer change")
            }
        }
    }
}

impl std::error::Error for LocalStateError {}

/// Why one join target could not be joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinFailure {
    /// The target (an address, or a name and the address it resolved to).
    pub target: String,
    /// What went wrong with it.
    pub reason: String,
}

impl fmt::Display for JoinFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.target, self.reason)
    }
}

/// A join that did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinError {
    /// A target is not `ip`, `ip:port`, `host` or `host:port`.
    InvalidTarget {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The node has left the cluster and cannot join again; start a new node.
    Left,
    /// Targets were given but none could be joined.
    NoneJoined {
        /// What went wrong with each target.
        failures: Vec<JoinFailure>,
    },
    /// The node was shut down before the join completed.
    Stopped,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::InvalidTarget { target, reason } => {
                write!(f, "invalid join target {target:?}: {reason}")
            }
            JoinError::Left => f.write_str("the node has left the cluster and cannot join again"),
            JoinError::NoneJoined { failures } => {
                f.write_str("no join target could be joined")?;
                for (i, failure) in failures.iter().enumerate() {
                    f.write_str(if i == 0 { ": " } else { "; " })?;
                    fmt::Display::fmt(failure, f)?;
                }
                Ok(())
            }
            JoinError::Stopped => f.write_str("the node was shut down before the join completed"),
        }
    }
}

impl std::error::Error for JoinError {}

/// A leave that did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaveError {
    /// `leave` was already called.
    AlreadyLeft,
    /// Every notification failed.
    NoneNotified {
        /// How many nodes were tried.
        tried: usize,
    },
    /// The node was shut down before the leave completed.
    Stopped,
}

impl fmt::Display for LeaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaveError::AlreadyLeft => f.write_str("the node has already left"),
            LeaveError::NoneNotified { tried } => {
                write!(
                    f,
                    "none of the {tried} nodes told of the leave acknowledged it"
                )
            }
            LeaveError::Stopped => f.write_str("the node was shut down before the leave completed"),
        }
    }
}

impl std::error::Error for LeaveError {}

/// Bytes that are not a valid Kite message or frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the two-byte header.
    TooShort,
    /// A protocol version this build does not speak.
    UnsupportedVersion(u8),
    /// An unknown message type byte.
    UnknownType(u8),
    /// The body does not decode as the message its header names.
    Malformed,
    /// Bytes left over after the message.
    TrailingBytes,
    /// A stream frame longer than the frame limit.
    FrameTooLarge {
        /// The length the frame claims.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A message of a kind that is not valid where it arrived (a stream
    /// message in a datagram, or the reverse).
    UnexpectedMessage,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort => f.write_str("message shorter than its header"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            DecodeError::UnknownType(t) => write!(f, "unknown message type {t}"),
            DecodeError::Malformed => f.write_str("malformed message body"),
            DecodeError::TrailingBytes => f.write_str("trailing bytes after the message"),
            DecodeError::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the {max}-byte limit")
            }
            DecodeError::UnexpectedMessage => {
                f.write_str("message of the wrong kind for this channel")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Text that is not a [`Key`](crate::Key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The text decodes to `len` bytes rather than 32.
    Length {
        /// How many bytes it holds.
        len: usize,
    },
    /// A character that is neither a hex digit nor standard base64, at
    /// byte `at` of the text (surrounding whitespace removed).
    Character {
        /// Its position.
        at: usize,
    },
    /// Base64 padding that is wrong, or a last character with bits beyond
    /// the key's.
    Padding,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key is 32 bytes as 64 hex digits or standard base64: ")?;
        match self {
            KeyError::Length { len } => write!(f, "this text holds {len} bytes"),
            KeyError::Character { at } => write!(f, "invalid character at byte {at}"),
            KeyError::Padding => f.write_str("invalid base64 padding"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A change to a node's keyring or security mode that was refused; the
/// node's security is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityError {
    /// The key is not in the ring.
    NotInstalled {
        /// The key's hint.
        hint: crate::KeyHint,
    },
    /// The primary key cannot be removed: make another key primary first
    /// ([`Node::use_key`](crate::Node::use_key)).
    RemovePrimary {
        /// The key's hint.
        hint: crate::KeyHint,
    },
    /// The mode seals messages and the ring holds no key.
    NoKey {
        /// The mode asked for.
        mode: crate::SecurityMode,
    },
}

impl fmt::Display for SecurityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecurityError::NotInstalled { hint } => {
                write!(f, "key {hint} is not installed; install it first")
            }
            SecurityError::RemovePrimary { hint } => write!(
                f,
                "key {hint} is the primary key and cannot be removed; make another key primary first"
            ),
            SecurityError::NoKey { mode } => write!(
                f,
                "security mode {mode:?} seals messages but the keyring is empty; install a key first"
            ),
        }
    }
}

impl std::error::Error for SecurityError {}

/// Why a stream exchange the core asked for failed, as the driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The connection was refused or could not be made.
    Connect(String),
    /// Connect, write or read took longer than the stream timeout.
    TimedOut,
    /// The peer closed the stream without a reply.
    Closed,
    /// Any other I/O or framing failure.
    Io(String),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Connect(e) => write!(f, "connect failed: {e}"),
            StreamError::TimedOut => f.write_str("stream timed out"),
            StreamError::Closed => f.write_str("peer closed the stream without a reply"),
            StreamError::Io(e) => write!(f, "stream I/O failed: {e}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// A DNS lookup that failed, as the driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveError(pub String);

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name resolution failed: {}", self.0)
    }
}

impl std::error::Error for ResolveError {}
