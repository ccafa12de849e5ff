//! An application's own logic tested against kite-sim, with nothing but
//! `kite_sim` paths (the test crate needs no other Kite dependency). This
//! file is the complete example of `docs/testing.md`.
//!
//! The application elects a leader with no protocol of its own: every
//! instance advertises a `role` key in its Kite state, and each takes as
//! leader the smallest id among the nodes it sees alive (itself included)
//! that advertise `role=leader-eligible`. The test checks that every live
//! instance follows the leader the cluster's true state calls for, after
//! the leader crashes, after the next one leaves, and after the next one
//! steps down by changing its key.

use core::time::Duration;

use kite_sim::{Event, Failure, NodeId, NodeStatus, NodeView, Sim, for_each_seed};

const ROLE: &str = "role";
const ELIGIBLE: &str = "leader-eligible";

/// The application logic under test: the leader among `nodes`, one node's
/// view of the cluster. In production the same function takes
/// `kite.nodes()`; here each simulated node's `Node::nodes()`.
fn leader(nodes: &[NodeView]) -> Option<NodeId> {
    nodes
        .iter()
        .filter(|view| view.status == NodeStatus::Alive)
        .filter(|view| view.entries.get(ROLE).is_some_and(|role| role == ELIGIBLE))
        .map(|view| view.id.clone())
        .min()
}

/// The leader the cluster's true state calls for: the smallest id among
/// the running nodes that have not left and advertise the role.
fn true_leader(sim: &Sim) -> Option<NodeId> {
    sim.live_hosts()
        .into_iter()
        .filter_map(|host| sim.node(host))
        .filter(|node| {
            let local = node.local_node();
            local.entries.get(ROLE).is_some_and(|role| role == ELIGIBLE)
        })
        .map(|node| node.id().clone())
        .min()
}

/// Every live instance follows the true leader; returns it.
fn agreed_leader(sim: &Sim) -> Result<NodeId, Failure> {
    let expected = true_leader(sim).ok_or_else(|| sim.failure("no eligible node is left"))?;
    for host in sim.live_hosts() {
        let follows = sim.node(host).and_then(|node| leader(&node.nodes()));
        sim.ensure(follows.as_ref() == Some(&expected), || {
            format!("{host} follows {follows:?}, not {expected}")
        })?;
    }
    Ok(expected)
}

#[test]
fn every_instance_follows_the_same_leader_across_a_crash_a_leave_and_a_step_down() {
    let limit = Duration::from_secs(60);
    for_each_seed(0..10, |seed| {
        let mut sim = Sim::new(seed);
        let hosts = sim.form_cluster(8, limit)?;
        for (i, host) in hosts.iter().enumerate() {
            let role = if i % 4 == 3 { "worker" } else { ELIGIBLE };
            sim.upsert(*host, ROLE, role).unwrap();
        }
        sim.await_convergence(limit)?;
        let first = agreed_leader(&sim)?;

        // The leader crashes: every instance is told, then follows the next.
        let host = sim.host_of(&first).unwrap();
        sim.crash(host);
        sim.await_status(&first, NodeStatus::Down, limit)?;
        let live = sim.live_hosts();
        let told = |e: &Event| *e == Event::NodeDown { id: first.clone() };
        sim.ensure(sim.all_saw(&live, told), || {
            "a watcher missed the crash".into()
        })?;
        let second = agreed_leader(&sim)?;

        // The new leader leaves gracefully.
        let host = sim.host_of(&second).unwrap();
        sim.leave(host).unwrap();
        sim.await_status(&second, NodeStatus::Left, limit)?;
        let third = agreed_leader(&sim)?;

        // The next one steps down by changing its key.
        let host = sim.host_of(&third).unwrap();
        sim.upsert(host, ROLE, "worker").unwrap();
        sim.await_key(&third, ROLE, Some("worker"), limit)?;
        let fourth = agreed_leader(&sim)?;
        let leaders = [&first, &second, &third, &fourth];
        sim.ensure(leaders.windows(2).all(|w| w[0] < w[1]), || {
            format!("the leaders did not move up the ids: {leaders:?}")
        })
    });
}
