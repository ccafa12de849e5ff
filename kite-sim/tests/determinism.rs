//! Determinism and the failure machinery itself.

mod common;

use core::time::Duration;

use common::*;
use kite_sim::{LinkModel, NetworkModel, Sim, for_each_seed};

/// A run touching every fault: loss, duplication, reordering, partitions,
/// crash, restart, pause, leave and DNS.
fn eventful(seed: u64) -> Sim {
    let link = LinkModel::lan()
        .loss(0.05)
        .duplicate(0.05)
        .jitter(Duration::from_millis(20))
        .reorder(0.1, Duration::from_millis(100));
    let mut sim = Sim::builder(seed)
        .network(NetworkModel::default().link(link))
        .build();
    let hosts = sim.add_nodes(12);
    sim.set_dns("kite", &hosts[..4]);
    for h in &hosts {
        sim.join(*h, &["kite"]).unwrap();
    }
    sim.run_for(secs(10)).unwrap();
    sim.upsert(hosts[1], "a", "1").unwrap();
    let cut = sim.partition(&hosts[..6], &hosts[6..]);
    sim.crash(hosts[7]);
    sim.pause(hosts[8], secs(5));
    sim.run_for(secs(20)).unwrap();
    sim.heal(cut);
    sim.restart(hosts[7]);
    sim.leave(hosts[9]).unwrap();
    sim.delete(hosts[1], "a").unwrap();
    sim.run_for(secs(30)).unwrap();
    sim
}

#[test]
fn the_same_seed_gives_the_same_trace_and_different_seeds_differ() {
    let hashes: Vec<u64> = (0..4).map(|seed| eventful(seed).trace_hash()).collect();
    for seed in 0..4u64 {
        let again = eventful(seed);
        assert_eq!(
            again.trace_hash(),
            hashes[seed as usize],
            "seed {seed} did not replay"
        );
    }
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        hashes.len(),
        "different seeds gave equal traces: {hashes:x?}"
    );
}

#[test]
fn an_oversized_datagram_fails_the_run_with_its_seed_and_trace() {
    let mut sim = Sim::builder(11)
        .network(NetworkModel::default().max_datagram(600))
        .build();
    let hosts = sim.add_cluster(30);
    sim.upsert(hosts[0], "k", "v").unwrap();
    let failure = sim
        .run_for(secs(30))
        .expect_err("a datagram over 600 bytes");
    let text = failure.to_string();
    assert!(
        text.contains("seed 11") && text.contains("KITE_SIM_SEED=11"),
        "{text}"
    );
    assert!(
        failure.reason.contains("network's 600-byte limit"),
        "{text}"
    );
    assert!(
        failure.actions.iter().any(|a| a.contains("joins via")),
        "{text}"
    );
    // The failure sticks.
    assert_eq!(sim.run_for(secs(1)).expect_err("still failed"), failure);
}

#[test]
fn an_unmet_condition_reports_the_seed() {
    let mut sim = Sim::new(5);
    let a = sim.add_node();
    let _lonely = sim.add_node();
    let failure = sim.await_convergence(secs(5)).expect_err("never joined");
    assert!(failure.reason.contains("does not know it"), "{failure}");
    assert_eq!(failure.seed, 5);
    assert!(sim.node(a).is_some());
}

#[test]
#[should_panic(expected = "rerun with KITE_SIM_SEED=3")]
fn for_each_seed_names_the_failing_seed() {
    for_each_seed(0..5, |seed| {
        let sim = Sim::new(seed);
        sim.ensure(seed != 3, || "seed three is unlucky".into())
    });
}
