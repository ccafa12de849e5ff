//! How fast the simulator runs a cluster: adds `nodes` nodes that all join
//! through the first, lets them gossip for 60 simulated seconds (formation),
//! then times 100 gossip rounds of the formed cluster.
//!
//! ```text
//! cargo run -p kite-sim --release --example speed -- [nodes] [max_packet_size]
//! ```
//!
//! Defaults: 1000 nodes, 1400-byte packets. Figures: `docs/benchmarks.md`.

use core::time::Duration;
use std::time::Instant;

use kite_sim::{InvariantConfig, Sim};

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .map_or(default, |a| a.parse().expect("arguments are numbers"))
}

fn main() -> Result<(), kite_sim::Failure> {
    let (nodes, packet) = (arg(1, 1000), arg(2, 1400));
    let mut sim = Sim::builder(1)
        .node_config(move |c| c.max_packet_size = packet)
        // Per-event invariants only, as in the report: no periodic sweep.
        .invariants(InvariantConfig {
            sweep_every: None,
            events: true,
        })
        .build();
    sim.add_cluster(nodes);
    let started = Instant::now();
    sim.run_for(Duration::from_secs(60))?;
    println!(
        "formation (120 rounds): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let rounds = Duration::from_millis(500) * 100;
    sim.run_for(rounds)?;
    println!(
        "{nodes} nodes x 100 rounds, {packet}-byte packets: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
