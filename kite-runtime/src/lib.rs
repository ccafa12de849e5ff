//! # kite-runtime
//!
//! Kite's async node, written once: it runs a [`kite_proto::Node`] over real
//! UDP and TCP sockets on any executor that implements the small
//! [`Runtime`] trait (spawn a task, sleep until an instant, bind UDP, listen
//! and connect over TCP). It owns everything between the core and the
//! sockets: the [`Kite`] handle, the [`Options`], stream framing, DNS
//! resolution (hickory-resolver, on the same runtime), event fan-out to
//! [`Watcher`]s and [`EventStream`]s, and metric publishing.
//!
//! Applications do not use this crate directly but one that implements
//! [`Runtime`] for their executor and re-exports this API: `kite-tokio`
//! (`kite_tokio::Kite` is `Kite<kite_tokio::Tokio>`) or `kite-async-std`
//! for async-std and smol. The shape is quinn's: the protocol in a sans-IO
//! crate (`kite-proto`), the I/O written once over a runtime trait, and
//! one small crate per executor.
//!
//! ## How a node runs
//!
//! [`Kite::start`] binds UDP and TCP on the same address and spawns three
//! tasks: the driver task (the only one that drains the core, with one timer
//! set to the core's next deadline), the UDP receive loop (64 KiB buffer,
//! whatever `max_packet_size` says), and the TCP accept loop (one task per
//! inbound stream, at most [`MAX_INBOUND_STREAMS`] at once). Outbound stream
//! exchanges and DNS lookups run as tasks of their own. The stream timeout
//! applies to each of connect, write and read, and frames over
//! `max_frame_len` are refused before anything is allocated for them. Every
//! task ends when the node stops; [`Kite::shutdown`] returns once they all
//! have, so the ports are free again.
//!
//! ```text
//!   UDP socket ──▶ receive ──┐                      ┌──▶ UDP socket (Transmit)
//!   TCP listener ─▶ accept ──┤ inputs   ┌────────┐  ├──▶ request task: connect, write, read (Request)
//!       serve (one frame in) ┼────────▶ │  Node  │──┤──▶ resolve task: hickory (Resolve)
//!   request / resolve tasks ─┘ + now    └────────┘  ├──▶ serve: reply frame out (Response)
//!                                  drive: turn()    └──▶ join/leave callers, streams, watchers (Event)
//! ```
//!
//! ## Advertise address
//!
//! The bind IP, with the bound port. When the bind IP is unspecified
//! (`0.0.0.0` or `[::]`), the host's private IP chosen by
//! [`choose_advertise_ip`] among its interface addresses (first RFC 1918
//! IPv4, then IPv6 unique-local, then other addresses; loopback and
//! link-local never), or loopback if there is none. Set
//! [`Options::advertise_addr`] on hosts with several private networks.
//!
//! ## DNS
//!
//! Names given to [`Kite::join`] are resolved by hickory-resolver running on
//! the node's runtime, with the system's resolver configuration
//! (`/etc/resolv.conf`), or with [`Options::name_servers`] when set, and,
//! once a join through them succeeded, re-resolved every
//! `dns_refresh_interval` whatever the answers' TTL (nothing is cached); new
//! addresses are joined without another call.
//!
//! ## Metrics and logs
//!
//! Every second the node publishes the counters of [`metrics`]
//! (connections, stream and packet bytes and counts, decode errors, stream
//! failures, dropped updates) and the gauge `kite_nodes{status}`, each
//! labelled `node=<id>`, through the `metrics` facade: install any recorder
//! to collect them. Events are logged at `debug` in a `kite{node=<id>}`
//! span, failures at `debug`/`warn`.

mod dns;
mod events;
mod frame;
mod kite;
pub mod metrics;
mod options;
mod runtime;
mod shared;
mod tasks;
mod watcher;

pub use api::*;
pub use kite::Kite;

/// Everything of this crate's API but the generic [`Kite`]: what
/// `kite-tokio` and `kite-async-std` re-export beside their own `Kite`, so
/// both offer the same names (`pub use kite_runtime::api::*;`).
pub mod api {
    pub use crate::events::EventStream;
    pub use crate::metrics;
    pub use crate::options::{DEFAULT_STREAM_TIMEOUT, Options, StartError, choose_advertise_ip};
    pub use crate::runtime::{Runtime, TcpListener, UdpSocket};
    pub use crate::shared::MAX_INBOUND_STREAMS;
    pub use crate::watcher::Watcher;
    pub use kite_proto::{
        ConfigError, Event, JoinError, JoinFailure, JoinId, Key, KeyError, KeyHint, LeaveError,
        Limits, LocalStateError, MAX_LABEL_LEN, NodeId, NodeIdError, NodeStatus, NodeView,
        Rejections, Security, SecurityError, SecurityMode, Stats,
    };
}
