//! # kite-sim
//!
//! A deterministic simulator that runs many real, unmodified
//! [`kite_proto::Node`]s over a virtual network, with faults, continuous
//! invariant checks and measurements. It is how Kite proves its protocol
//! under faults, and how an application can test its own use of Kite
//! against a whole cluster, reproducibly, in milliseconds.
//!
//! ## What it models
//!
//! - **Time**: virtual; the clock jumps to the next scheduled happening (a
//!   node's deadline, a packet's arrival), so a simulated hour of an idle
//!   cluster costs nothing.
//! - **Network** ([`NetworkModel`], [`LinkModel`]): per-link latency and
//!   jitter, loss, duplication and reordering; full and one-way partitions
//!   ([`Sim::partition`], [`Sim::partition_one_way`]); a datagram size
//!   limit; stream exchanges with connection refusal (crashed peer) and
//!   timeouts (partitions, lossy links; after the requester's
//!   [`kite_proto::Config::stream_timeout`], 10 s by default). Every
//!   datagram carries the real wire bytes.
//! - **Clocks**: optionally, every host reads its own clock, offset from
//!   true time and running up to a chosen fraction fast or slow
//!   ([`SimBuilder::clock_drift`]); nodes only ever see their host's clock.
//! - **DNS**: names whose answers the test changes over time
//!   ([`Sim::set_dns`]).
//! - **Processes**: add ([`Sim::add_node`]), join, local writes, graceful
//!   leave, crash without goodbye, restart with a new id on the same
//!   address, and pauses (a long GC pause: inputs wait until it ends).
//!
//! Hosts get addresses `127.0.0.1:7000`, `127.0.0.2:7000`, … ([`HostId::addr`]),
//! or one the test chooses ([`Sim::add_node_at`]); no socket is ever opened.
//!
//! ## Determinism
//!
//! One `u64` seed fixes the whole run: every node's RNG is derived from it
//! and the network draws from its own seeded generator; only ordered
//! collections are used. [`Sim::trace_hash`] hashes (FNV-1a) a canonical
//! rendering of everything that happened, so tests can assert that a seed
//! replays identically. [`for_each_seed`] runs a scenario over many seeds and,
//! when one fails, prints it with the reason and a trace; setting
//! `KITE_SIM_SEED` replays just that seed:
//!
//! ```text
//! KITE_SIM_SEED=15 cargo test -p kite-sim --test chaos
//! ```
//!
//! A [`Failure`] shows the seed, the simulated time, the broken invariant,
//! every command and fault of the run with its time, and the last events
//! concerning the nodes involved. A scenario written as a list of steps can
//! be run through [`shrink`], which replays ever shorter lists of the same
//! steps while they still fail, so the trace printed is that of a short run
//! (the chaos test does this).
//!
//! ## Invariants
//!
//! Checked as the run goes ([`InvariantConfig`]), failing it with a
//! [`Failure`]: no version regression, no resurrected key, a left node never
//! reported down nor re-discovered, every datagram within the sender's
//! `max_packet_size` and the network limit, and no node asking to be woken
//! in the past. Convergence is checked on demand: [`Sim::converged`] and
//! [`Sim::await_convergence`] (all live nodes agree on every live node's
//! live keys and see it alive).
//!
//! ## Testing an application
//!
//! Build a cluster, drive it with the same calls the application makes, and
//! assert on node snapshots ([`Sim::node`]) and on the event log
//! ([`Sim::events`]), which is what the application's watcher would see.
//! The kite-proto types a test names are re-exported ([`Event`],
//! [`NodeId`], [`NodeStatus`], [`Node`], [`NodeView`], [`Config`], ...;
//! the rest under [`proto`]), so a test crate depends on kite-sim alone.
//!
//! Every helper that waits takes a bound in simulated time and returns how
//! long it took, or a [`Failure`] (seed, reason, trace) saying who does not
//! see what yet; none panics on a timeout:
//!
//! | helper | starts or waits until |
//! | --- | --- |
//! | [`Sim::add_cluster`] | `n` nodes added, all but the first joining through the first (no wait) |
//! | [`Sim::form_cluster`] | the same, then every new node sees every other alive |
//! | [`Sim::await_formed`] | every live node sees every other alive |
//! | [`Sim::await_convergence`] | every live node also holds every live node's keys |
//! | [`Sim::await_status`] | every other live node holds a node with a [`NodeStatus`] |
//! | [`Sim::await_key`] | every other live node holds a node's key at a value, or without it |
//! | [`Sim::await_all_saw`] | each of some hosts emitted a matching [`Event`] ([`Sim::all_saw`] asks now) |
//!
//! ```
//! use core::time::Duration;
//! use kite_sim::{Event, LinkModel, NetworkModel, NodeStatus, Sim};
//!
//! # fn main() -> Result<(), kite_sim::Failure> {
//! let mut sim = Sim::builder(7)
//!     .network(NetworkModel::default().link(LinkModel::lan().loss(0.02)))
//!     .build();
//! let hosts = sim.form_cluster(5, Duration::from_secs(30))?;
//! // Each instance publishes where its RPC server listens.
//! for host in &hosts {
//!     sim.upsert(*host, "rpc_addr", &format!("{}:9000", host.ip())).unwrap();
//! }
//! sim.await_convergence(Duration::from_secs(30))?;
//!
//! // Every instance learns of the crash of hosts[4]; a router on hosts[1]
//! // was told by a NodeDown event and still holds where it listened.
//! let gone = sim.id(hosts[4]).unwrap();
//! sim.crash(hosts[4]);
//! sim.await_status(&gone, NodeStatus::Down, Duration::from_secs(120))?;
//! let router = hosts[1];
//! assert!(sim.all_saw(&[router], |e| *e == Event::NodeDown { id: gone.clone() }));
//! let view = sim.node(router).unwrap().node(&gone).unwrap();
//! assert_eq!(view.entries["rpc_addr"], "127.0.0.5:9000");
//! # Ok(())
//! # }
//! ```
//!
//! `docs/testing.md` is the guide: a complete application-level test (the
//! file `kite-sim/tests/application.rs`), seeds, faults, and how long a
//! crash takes to be detected right after formation.
//!
//! ## Fuzzing
//!
//! The `fuzzing` feature compiles the cargo-fuzz harnesses of `fuzz/`
//! (hidden test support, not part of the API; they also run in this crate's
//! unit tests, replaying every committed corpus file). The `converge`
//! target runs its two nodes in this simulator, and every harness uses its
//! invariant checker; see `docs/fuzzing.md`.
//!
//! ## The report
//!
//! `cargo run -p kite-sim --release -- --help` measures spread and
//! detection rounds, traffic and memory at chosen sizes; see [`report`] and
//! `docs/benchmarks.md`.
//!
//! With the `svg` feature (off by default, so the library pulls in no
//! plotting code) `kite_sim::plot` draws the report's pictures with
//! plotters' SVG backend, and the report takes `--svg DIR`:
//! `cargo run -p kite-sim --release --features svg -- --svg docs/img`.

/// The Rust examples of `docs/testing.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/testing.md")]
struct TestingGuide;

mod dns;
mod events;
mod failure;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod hosts;
mod invariants;
mod metrics;
mod network;
#[cfg(feature = "svg")]
pub mod plot;
pub mod report;
mod seeds;
mod shrink;
mod sim;
mod trace;

/// kite-proto, whole, for what the root does not re-export (the driving
/// types [`proto::Output`] and [`proto::StreamId`], [`proto::SeededRng`],
/// the wire format): a test crate needs no dependency but kite-sim.
pub use kite_proto as proto;
/// The kite-proto types an application test names: the node a host runs
/// and its snapshots ([`Node`], [`NodeView`], [`NodeId`], [`NodeStatus`]),
/// the events its watcher would get ([`Event`]), its configuration
/// ([`Config`], with its [`Security`]: [`Key`], [`SecurityMode`]), the
/// errors of the commands, and time ([`Timestamp`]).
pub use kite_proto::{
    Config, Event, JoinError, JoinId, Key, LeaveError, LocalStateError, Node, NodeId, NodeStatus,
    NodeView, Security, SecurityMode, Timestamp,
};

pub use events::{LoggedEvent, subject};
pub use failure::Failure;
pub use hosts::{HostId, PORT};
pub use invariants::InvariantConfig;
pub use metrics::{HostCounters, Metrics};
pub use network::{LinkModel, NetworkModel, PartitionId};
pub use seeds::{SEED_ENV, SEEDS_ENV, for_each_seed, hunt_seeds};
pub use shrink::shrink;
pub use sim::{EventFilter, LoggedOutput, Sim, SimBuilder};
