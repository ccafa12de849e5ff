//! A process restarted under the same id (a later generation) replaces its
//! earlier run at every node: under loss, reordering and duplication, and
//! while packets of the earlier run are still in flight, every node ends
//! with exactly the new run's live keys, and the earlier run's keys are
//! reported deleted.

use std::collections::BTreeMap;
use std::time::Duration;

use kite_proto::{Config, Event, NodeStatus};
use kite_sim::{Failure, HostId, LinkModel, NetworkModel, Sim, for_each_seed};

fn fast(c: &mut Config) {
    c.gossip_interval = Duration::from_millis(100);
    c.suspicion_threshold = 8.0;
}

fn lossy(seed: u64, n: usize) -> (Sim, Vec<HostId>) {
    let link = LinkModel::lan()
        .latency(Duration::from_millis(20))
        .jitter(Duration::from_millis(20))
        .loss(0.05)
        .duplicate(0.02)
        .reorder(0.05, Duration::from_millis(80));
    let mut sim = Sim::builder(seed)
        .network(NetworkModel::default().link(link))
        .node_config(fast)
        .build();
    let hosts = sim.add_nodes(n);
    let seed_addr = hosts[0].addr().to_string();
    for h in &hosts[1..] {
        sim.join(*h, &[seed_addr.as_str()]).unwrap();
    }
    (sim, hosts)
}

#[test]
fn a_restart_with_the_same_id_replaces_the_earlier_run_everywhere() {
    for_each_seed(0..24, |seed| {
        let (mut sim, hosts) = lossy(seed, 6);
        let target = hosts[5];
        sim.upsert(target, "role", "old").unwrap();
        sim.upsert(target, "only-old", "1").unwrap();
        sim.await_convergence(Duration::from_secs(60))?;
        // A last write of the old run, still travelling when it dies.
        sim.upsert(target, "late", "old").unwrap();
        sim.run_for(Duration::from_millis(5))?;
        let id = sim.restart_with_same_id(target);
        sim.upsert(target, "role", "new").unwrap();
        sim.upsert(target, "only-new", "2").unwrap();
        sim.await_convergence(Duration::from_secs(60))?;
        // Gossip settles; nothing of the old run comes back.
        sim.run_for(Duration::from_secs(10))?;
        let expected: BTreeMap<String, String> = [("only-new", "2"), ("role", "new")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let generation = sim.node(target).unwrap().local_node().generation;
        for h in &hosts[..5] {
            let seen = sim.node(*h).unwrap().node(&id).unwrap();
            assert_eq!(seen.entries, expected, "seed {seed}, observer {h}");
            assert_eq!(seen.generation, generation, "seed {seed}, observer {h}");
            assert_eq!(seen.status, NodeStatus::Alive, "seed {seed}, observer {h}");
            let deleted_old = sim.events().iter().any(|e| {
                e.host == *h
                    && matches!(&e.event, Event::KeyDeleted { id: of, key, .. } if *of == id && key == "only-old")
            });
            assert!(
                deleted_old,
                "seed {seed}, observer {h}: old key never deleted"
            );
        }
        Ok::<(), Failure>(())
    });
}

#[test]
fn a_node_that_left_comes_back_under_its_id_after_a_restart() -> Result<(), Failure> {
    let (mut sim, hosts) = lossy(3, 4);
    let target = hosts[3];
    sim.await_convergence(Duration::from_secs(60))?;
    sim.leave(target).unwrap();
    sim.run_for(Duration::from_secs(5))?;
    let id = sim.id(target).unwrap();
    for h in &hosts[..3] {
        let seen = sim.node(*h).unwrap().node(&id).unwrap();
        assert_eq!(seen.status, NodeStatus::Left);
    }
    sim.restart_with_same_id(target);
    sim.upsert(target, "back", "yes").unwrap();
    sim.await_convergence(Duration::from_secs(60))?;
    for h in &hosts[..3] {
        let seen = sim.node(*h).unwrap().node(&id).unwrap();
        assert_eq!(seen.status, NodeStatus::Alive, "observer {h}");
        assert_eq!(seen.entries["back"], "yes");
    }
    Ok(())
}

#[test]
fn no_update_of_the_new_run_is_dropped_for_being_behind_the_old_one() -> Result<(), Failure> {
    let (mut sim, hosts) = lossy(5, 3);
    let target = hosts[2];
    // The old run reaches a high version; the new one starts from 1.
    for i in 0..40 {
        sim.upsert(target, "counter", &i.to_string()).unwrap();
    }
    sim.await_convergence(Duration::from_secs(60))?;
    let id = sim.restart_with_same_id(target);
    sim.upsert(target, "counter", "fresh").unwrap();
    // Within a few rounds, not after the new run passes version 40.
    sim.run_for(Duration::from_secs(3))?;
    for h in &hosts[..2] {
        let seen = sim.node(*h).unwrap().node(&id).unwrap();
        assert_eq!(seen.entries["counter"], "fresh", "observer {h}");
        assert_eq!(seen.version, 1, "observer {h}");
    }
    Ok(())
}
