//! State scenarios: updates and deletes spreading, compaction, and a large
//! value that cannot fit a datagram.

mod common;

use common::*;
use kite_sim::{Event, LinkModel, NetworkModel, Sim, for_each_seed};

fn lossy(seed: u64) -> Sim {
    Sim::builder(seed)
        .network(
            NetworkModel::default().link(
                LinkModel::lan()
                    .loss(0.05)
                    .duplicate(0.02)
                    .jitter(secs(0) + core::time::Duration::from_millis(30))
                    .reorder(0.05, core::time::Duration::from_millis(200)),
            ),
        )
        .build()
}

#[test]
fn updates_and_deletes_propagate_under_loss_duplication_and_reordering() {
    for_each_seed(0..10, |seed| {
        let mut sim = lossy(seed);
        let hosts = sim.form_cluster(20, secs(60))?;
        for (i, h) in hosts.iter().enumerate().take(10) {
            sim.upsert(*h, "status", "ready").unwrap();
            sim.upsert(*h, &format!("k{i}"), &format!("v{i}")).unwrap();
        }
        sim.await_convergence(secs(30))?;
        for (i, h) in hosts.iter().enumerate().take(10) {
            sim.upsert(*h, "status", "draining").unwrap();
            sim.delete(*h, &format!("k{i}")).unwrap();
        }
        sim.await_convergence(secs(30))?;
        let deleted = count(&sim, |e| matches!(e, Event::KeyDeleted { .. }));
        sim.ensure(deleted == 10 * 19, || {
            format!("{deleted} delete events, expected {}", 10 * 19)
        })?;
        for h in &hosts {
            let node = sim.node(*h).unwrap();
            for view in node.nodes().iter().filter(|v| v.id != *node.id()) {
                let keys: Vec<_> = view.entries.keys().collect();
                let expected = usize::from(sim.host_of(&view.id).is_some_and(|o| o.0 < 10));
                sim.ensure(keys.len() == expected, || {
                    format!("{h} sees {} with keys {keys:?}", view.id)
                })?;
            }
        }
        Ok(())
    });
}

#[test]
fn compaction_leaves_every_peer_with_exactly_the_live_keys() {
    for_each_seed(0..8, |seed| {
        let mut sim = Sim::builder(seed)
            .node_config(|c| c.compact_threshold = 25)
            .build();
        let hosts = sim.form_cluster(10, secs(60))?;
        let writer = hosts[0];
        for i in 0..60 {
            sim.upsert(writer, &format!("key{i:02}"), &format!("value{i}"))
                .unwrap();
        }
        sim.run_for(secs(10))?;
        // One peer falls behind while the writer churns and compacts twice.
        let behind = sim.isolate(hosts[9]);
        for round in 0..3 {
            for i in (round * 17)..(round * 17 + 17) {
                sim.delete(writer, &format!("key{i:02}")).unwrap();
                sim.run_for(core::time::Duration::from_millis(150))?;
            }
            sim.upsert(writer, &format!("fresh{round}"), "x").unwrap();
        }
        let version = sim.node(writer).unwrap().local_node().version;
        sim.ensure(version > 60 + 51, || {
            format!("writer at version {version}: no compaction")
        })?;
        sim.run_for(secs(10))?;
        sim.heal(behind);
        sim.await_convergence(secs(60))?;
        let live = sim.node(writer).unwrap().local_node().entries;
        sim.ensure(live.len() == 60 - 51 + 3, || {
            format!("writer holds {} keys", live.len())
        })?;
        let writer_id = sim.id(writer).unwrap();
        let behind_view = sim.node(hosts[9]).unwrap().node(&writer_id).unwrap();
        sim.ensure(behind_view.entries == live, || {
            "the lagging peer disagrees".into()
        })
    });
}

#[test]
fn a_100_kib_value_spreads_to_100_nodes() {
    for_each_seed(0..5, |seed| {
        let mut sim = Sim::builder(seed)
            .invariants(kite_sim::InvariantConfig {
                sweep_every: Some(secs(5)),
                ..Default::default()
            })
            .build();
        let hosts = sim.form_cluster(100, secs(60))?;
        let value: String = (0..100 * 1024)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        sim.upsert(hosts[17], "blob", &value).unwrap();
        sim.upsert(hosts[17], "after", "small").unwrap();
        let took = sim.await_convergence(secs(120))?;
        sim.ensure(sim.rounds(took) <= 60.0, || {
            format!("the value took {took:?} to spread")
        })?;
        let largest = sim.metrics().largest_datagram();
        sim.ensure(largest <= 1400, || format!("a {largest}-byte datagram"))?;
        sim.ensure(sim.metrics().streams() > 0, || {
            "no stream carried the value".into()
        })
    });
}
