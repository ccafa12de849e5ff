//! Membership scenarios: formation, leave, crash detection, restart,
//! expiry and discovery through DNS.

mod common;

use common::*;
use kite_proto::{Event, NodeStatus};
use kite_sim::{Sim, for_each_seed};

#[test]
fn formation_from_one_seed_node() {
    for_each_seed(0..10, |seed| {
        let mut sim = Sim::new(seed);
        let hosts = cluster(&mut sim, 20);
        let took = sim.await_convergence(secs(60))?;
        sim.ensure(sim.rounds(took) < 40.0, || format!("formation took {took:?}"))?;
        // Every join reported success naming the seed node.
        let seed_id = sim.id(hosts[0]).unwrap();
        let ok = sim
            .events()
            .iter()
            .filter(|e| matches!(&e.event, Event::JoinCompleted { result: Ok(ids), .. } if ids == &vec![seed_id.clone()]))
            .count();
        sim.ensure(ok == 19, || format!("{ok} successful joins"))
    });
}
