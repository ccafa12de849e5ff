//! Helpers shared by the scenario tests.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use kite_proto::{Event, NodeId};
use kite_sim::{Failure, HostId, Sim};

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Adds `n` nodes; all but the first join through the first.
pub fn cluster(sim: &mut Sim, n: usize) -> Vec<HostId> {
    let hosts = sim.add_nodes(n);
    let seed = hosts[0].addr().to_string();
    for h in &hosts[1..] {
        sim.join(*h, &[&seed]).expect("valid target");
    }
    hosts
}

/// Adds `n` nodes, joins them through the first and waits for convergence.
pub fn formed(sim: &mut Sim, n: usize) -> Result<Vec<HostId>, Failure> {
    let hosts = cluster(sim, n);
    sim.await_convergence(secs(60))?;
    Ok(hosts)
}

/// Whether every host in `observers` has emitted an event matching `pred`.
pub fn all_saw(sim: &Sim, observers: &[HostId], pred: impl Fn(&Event) -> bool) -> bool {
    observers.iter().all(|h| {
        let id = sim.id(*h);
        sim.events()
            .iter()
            .any(|e| e.host == *h && Some(&e.node) == id.as_ref() && pred(&e.event))
    })
}

/// Events about `id` matching `pred`, from any observer.
pub fn count(sim: &Sim, pred: impl Fn(&Event) -> bool) -> usize {
    sim.events().iter().filter(|e| pred(&e.event)).count()
}

pub fn is_down(id: &NodeId) -> impl Fn(&Event) -> bool + '_ {
    move |e| matches!(e, Event::NodeDown { id: x } if x == id)
}
