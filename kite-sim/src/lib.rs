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
//!   timeouts (partitions, lossy links; [`NetworkModel::stream_timeout`],
//!   10 s by default). Every datagram carries the real wire bytes.
//! - **Clocks**: optionally, every host reads its own clock, offset from
//!   true time and running up to a chosen fraction fast or slow
//!   ([`SimBuilder::clock_drift`]); nodes only ever see their host's clock.
//! - **DNS**: names whose answers the test changes over time
//!   ([`Sim::set_dns`]).
//! - **Processes**: add ([`Sim::add_node`]), join, local writes, graceful
//!   leave, crash without goodbye, restart with a new id on the same
//!   address, and pauses (a long GC pause: inputs wait until it ends).
//!
//! Hosts get addresses `127.0.0.1:7000`, `127.0.0.2:7000`, … ([`HostId::addr`]);
//! no socket is ever opened.
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
//! ([`Sim::events`]), which is what the application's watcher would see:
//!
//! ```
//! use core::time::Duration;
//! use kite_proto::Event;
//! use kite_sim::{LinkModel, NetworkModel, Sim};
//!
//! # fn main() -> Result<(), kite_sim::Failure> {
//! let mut sim = Sim::builder(7)
//!     .network(NetworkModel::default().link(LinkModel::lan().loss(0.02)))
//!     .build();
//! let hosts = sim.add_nodes(5);
//! let seed = hosts[0].addr().to_string();
//! for host in &hosts[1..] {
//!     sim.join(*host, &[&seed]).unwrap();
//! }
//! // Each instance publishes where its RPC server listens.
//! for host in &hosts {
//!     sim.upsert(*host, "rpc_addr", &format!("{}:9000", host.ip())).unwrap();
//! }
//! sim.await_convergence(Duration::from_secs(30))?;
//!
//! // A router on hosts[1] learns of the crash of hosts[4] as NodeDown.
//! let gone = sim.id(hosts[4]).unwrap();
//! sim.crash(hosts[4]);
//! let router = hosts[1];
//! sim.run_until(
//!     |sim| sim.events().iter().any(|e| e.host == router && e.event == Event::NodeDown { id: gone.clone() }),
//!     Duration::from_secs(120),
//! )?;
//! let view = sim.node(router).unwrap().node(&gone).unwrap();
//! assert_eq!(view.entries["rpc_addr"], "127.0.0.5:9000");
//! # Ok(())
//! # }
//! ```
//!
//! ## The report
//!
//! `cargo run -p kite-sim --release -- --help` measures spread and
//! detection rounds, traffic and memory at chosen sizes; see [`report`] and
//! `docs/benchmarks.md`.

mod clock;
mod control;
mod dns;
mod drift;
mod events;
mod failure;
mod faults;
mod host;
mod invariants;
mod metrics;
mod network;
pub mod report;
mod seeds;
mod shrink;
mod sim;
mod streams;
mod trace;

pub use events::{LoggedEvent, subject};
pub use failure::Failure;
pub use faults::PartitionId;
pub use host::{HostId, PORT};
pub use invariants::InvariantConfig;
pub use metrics::{HostCounters, Metrics};
pub use network::{LinkModel, NetworkModel};
pub use seeds::{SEED_ENV, for_each_seed};
pub use shrink::shrink;
pub use sim::{Sim, SimBuilder};
