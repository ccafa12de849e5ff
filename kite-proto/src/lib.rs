//! # kite-proto
//!
//! Kite's protocol as a deterministic, sans-IO state machine: cluster
//! membership with the Scuttlebutt anti-entropy gossip protocol and
//! phi-accrual failure detection.
//!
//! Every node owns a map of string keys to string values (its *local
//! state*). [`Node`] spreads each node's map to every other node and reports
//! joins, leaves, failures, recoveries and key changes as [`Event`]s. It does
//! no I/O: the driver hands in timestamped inputs (datagrams, stream
//! requests and replies, DNS answers, timeouts, commands) and carries out the
//! [`Output`]s. The `kite-tokio` and `kite-async-std` crates drive it over
//! real sockets; `kite-sim` drives many nodes over a deterministic virtual
//! network. See [`Node`] for the driving contract and an example.
//!
//! ## Limits
//!
//! Everything that comes off the network is bounded before it is stored:
//!
//! | what | bound |
//! | --- | --- |
//! | node id | 1 to 64 bytes ([`MAX_NODE_ID_LEN`]) |
//! | key, value, one node's state, known nodes, stream frame | [`Limits`] (256 B, 256 KiB, 1 MiB, 16,384, 4 MiB) |
//! | datagram sent | `max_packet_size` (default 1400, [`MIN_PACKET_SIZE`]..=[`MAX_PACKET_SIZE`]); any datagram up to 64 KiB is accepted |
//! | addresses taken from one DNS answer | 256 |
//! | ids awaiting their state, expired ids remembered | `max_nodes` each, for `node_expiry` |
//! | decoding | sequences grow only as their elements decode, so memory stays proportional to the input |
//!
//! Remote updates over a limit are dropped and counted
//! ([`Stats::dropped_updates`]); local writes over a limit return a
//! [`LocalStateError`].

mod config;
pub mod driver;
mod error;
mod event;
#[cfg(any(test, feature = "arbitrary"))]
pub mod fuzzing;
mod id;
mod node;
mod output;
mod phi;
mod rng;
mod state;
mod stats;
mod target;
mod time;
pub mod wire;

pub use config::{Config, ENTRY_OVERHEAD, LEAVE_FANOUT, Limits, MAX_PACKET_SIZE, MIN_PACKET_SIZE};
pub use error::{
    ConfigError, DecodeError, JoinError, JoinFailure, LeaveError, LocalStateError, NodeIdError,
    ResolveError, StreamError,
};
pub use event::{Event, JoinId, NodeStatus, NodeView};
pub use id::{MAX_NODE_ID_LEN, NodeId, RANDOM_NODE_ID_LEN};
pub use node::Node;
pub use output::{Output, RequestId, StreamId};
pub use rng::SeededRng;
pub use stats::{MessageCounts, Stats};
pub use time::Timestamp;
