//! A lossless, instant network for the protocol tests: datagrams, streams
//! and DNS answers arrive at the moment they are sent, so what a test sees
//! is the protocol's doing, not the network's. (Faults are added per test.)

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use kite_proto::{Config, Event};
use kite_sim::{Failure, HostId, LinkModel, NetworkModel, Sim};

/// A simulator over a lossless, zero-latency network, every node configured
/// by `tweak`.
pub fn lossless(seed: u64, tweak: impl Fn(&mut Config) + 'static) -> Sim {
    let mut network = NetworkModel::default().link(LinkModel::perfect());
    network.dns_latency = Duration::ZERO;
    Sim::builder(seed)
        .network(network)
        .node_config(tweak)
        .build()
}

/// `n` nodes on a lossless network (seed 1), not yet joined.
pub fn net(n: usize, tweak: impl Fn(&mut Config) + 'static) -> (Sim, Vec<HostId>) {
    let mut sim = lossless(1, tweak);
    let hosts = sim.add_nodes(n);
    (sim, hosts)
}

/// Joins every host after the first through the first, then runs 5 s.
pub fn form(sim: &mut Sim, hosts: &[HostId]) -> Result<(), Failure> {
    let seed = sim.addr(hosts[0]).to_string();
    for h in &hosts[1..] {
        sim.join(*h, &[&seed]).expect("valid target");
    }
    sim.run_for(Duration::from_secs(5))
}

/// Carries out everything due now (on this network nothing takes time).
pub fn settle(sim: &mut Sim) -> Result<(), Failure> {
    sim.run_for(Duration::ZERO)
}

/// The events `host`'s nodes emitted, in order.
pub fn events_of(sim: &Sim, host: HostId) -> Vec<Event> {
    sim.events()
        .iter()
        .filter(|e| e.host == host)
        .map(|e| e.event.clone())
        .collect()
}
