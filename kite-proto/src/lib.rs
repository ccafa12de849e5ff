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
//! network. See [`Node`] for the driving contract (sockets, stream framing
//! and timeouts, and why exchanges must not block the loop) and an example;
//! `examples/examples/custom_loop.rs` in the repository is a complete
//! driver over `std::net` and threads.
//!
//! ## Limits
//!
//! Everything that comes off the network is bounded before it is stored:
//!
//! | what | bound |
//! | --- | --- |
//! | node id | 1 to 64 bytes ([`MAX_NODE_ID_LEN`]), checked while decoding |
//! | key, value | `max_key_len`, `max_value_len` ([`Limits`]; default 256 B, 256 KiB) |
//! | one node's state | `max_node_state_bytes` (default 1 MiB): keys, values and [`ENTRY_OVERHEAD`] per entry, tombstones included |
//! | internal markers of one node | one left marker and one compaction marker: a compaction whose floor does not cover the previous marker is refused |
//! | known nodes | `max_nodes` (default 16,384); further nodes are ignored |
//! | ids awaiting their state, expired or left ids remembered | `max_nodes` each, for `node_expiry` |
//! | stream frame | `max_frame_len` (default 4 MiB): [`wire::frame::body_len`] (and [`wire::frame::Reader`], which uses it) checks the 4-byte length prefix before anything is read or allocated; every frame the core emits fits |
//! | datagram sent | `max_packet_size` (default 1400, [`MIN_PACKET_SIZE`]..=[`MAX_PACKET_SIZE`]); any datagram up to 64 KiB is accepted |
//! | an envelope | refused on its label, mode, key hint or tag before anything in it is decoded; a sealed message is decrypted into one buffer no longer than the input, after its tag is verified |
//! | decoding | strings are length-checked against the bytes left before they are copied, and sequences grow only as their elements decode (at most 16 reserved up front), so a decoded message holds at most a constant multiple of its length (fuzzed: 128 × its length + 4 KiB) |
//! | a digest naming a node more than once | answered once |
//! | state pushes in flight | 4 (one per peer); leave notifications: [`LEAVE_FANOUT`] |
//! | failure detector history | 100 inter-arrival samples per node |
//! | times kept of a peer (its last evidence, status change, state change) | 32-bit milliseconds: ages to 24.8 days, so `node_expiry` is at most [`MAX_NODE_EXPIRY`] (24 days) |
//! | rumors and news waiting to be forwarded | 64 each (the most-sent is dropped first); a news item at most a quarter of `max_packet_size` |
//! | nodes watched as a monitor, suspicions held | one per known peer; at most 10 suspecters per suspected node |
//! | addresses taken from one DNS answer | 256 (per joined port) |
//! | join target host names | 253 bytes |
//!
//! Remote updates over a limit are dropped and counted
//! ([`Stats::dropped_updates`]); local writes over a limit return a
//! [`LocalStateError`]. Counters, versions and heartbeats are 64-bit and
//! allocate nothing. Without a key the wire format is not authenticated:
//! whoever can send to a node can forge state or liveness for any id (see
//! `docs/fuzzing.md`); the limits above bound what that can cost, not
//! whether it is believed.
//!
//! ## Security
//!
//! [`Config::security`] sets a cluster label (nodes of other labels are
//! refused) and a keyring: in a mode that seals, every datagram and stream
//! frame is encrypted and authenticated with XChaCha20-Poly1305 under the
//! primary key, nonces drawn from the node's RNG, and only key holders can
//! read the cluster's state or take part in it. Keys rotate and encryption
//! is turned on while the cluster runs; see [`security`],
//! [`wire::envelope`] and `docs/security.md`. Refused inputs are counted by
//! reason in [`Stats::rejected`].

#[cfg(any(test, feature = "arbitrary"))]
#[doc(hidden)]
pub mod audit;
mod config;
mod direct;
mod error;
mod event;
mod id;
mod node;
mod output;
mod phi;
mod rng;
pub mod security;
mod state;
mod stats;
mod target;
mod time;
pub mod wire;

pub use config::{
    Config, DEFAULT_STREAM_TIMEOUT, ENTRY_OVERHEAD, LEAVE_FANOUT, Limits, MAX_NODE_EXPIRY,
    MAX_PACKET_SIZE, MIN_PACKET_SIZE,
};
pub use error::{
    ConfigError, DecodeError, JoinError, JoinFailure, KeyError, LeaveError, LocalStateError,
    NodeIdError, ResolveError, SecurityError, StreamError,
};
pub use event::{Event, JoinId, NodeStatus, NodeView};
pub use id::{MAX_NODE_ID_LEN, NodeId, RANDOM_NODE_ID_LEN};
pub use node::Node;
pub use output::{Output, RequestId, StreamId};
pub use rng::SeededRng;
pub use security::{Key, KeyHint, MAX_LABEL_LEN, Security, SecurityMode};
pub use stats::{MessageCounts, Rejections, Stats};
pub use time::Timestamp;
