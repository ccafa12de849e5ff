//! State propagation: updates, deletes, compaction, large values, determinism.

mod lossless;

use std::time::Duration;

use kite_proto::{Event, Output};
use kite_sim::{Failure, LoggedOutput, Sim};
use lossless::{events_of, form, lossless, net};

/// The largest datagram any node sent since outputs were recorded.
fn largest_datagram(sim: &Sim) -> usize {
    sim.outputs()
        .iter()
        .filter_map(|o| match &o.output {
            Output::Transmit { payload, .. } => Some(payload.len()),
            _ => None,
        })
        .max()
        .expect("datagrams were sent")
}

#[test]
fn updates_and_deletes_reach_every_node_with_events() -> Result<(), Failure> {
    let (mut sim, hosts) = net(5, |_| {});
    form(&mut sim, &hosts)?;
    sim.upsert(hosts[2], "status", "ready").unwrap();
    sim.run_for(Duration::from_secs(5))?;
    sim.delete(hosts[2], "status").unwrap();
    sim.run_for(Duration::from_secs(5))?;
    let id2 = sim.id(hosts[2]).unwrap();
    for h in [0, 1, 3, 4].map(|i| hosts[i]) {
        let events = events_of(&sim, h);
        let up = events.iter().position(|e| {
            *e == Event::KeyUpserted {
                id: id2.clone(),
                key: "status".into(),
                value: "ready".into(),
            }
        });
        let del = events.iter().position(|e| {
            *e == Event::KeyDeleted {
                id: id2.clone(),
                key: "status".into(),
                value: "ready".into(),
            }
        });
        assert!(
            up.is_some() && del.is_some() && up < del,
            "node {h}: {events:?}"
        );
        assert!(sim.node(h).unwrap().node(&id2).unwrap().entries.is_empty());
    }
    Ok(())
}

#[test]
fn compaction_leaves_peers_with_exactly_the_live_keys() -> Result<(), Failure> {
    let (mut sim, hosts) = net(3, |c| c.compact_threshold = 10);
    form(&mut sim, &hosts)?;
    for round in 0..5 {
        for k in 0..8 {
            sim.upsert(hosts[0], &format!("key-{round}-{k}"), "v")
                .unwrap();
        }
        for k in 0..6 {
            sim.delete(hosts[0], &format!("key-{round}-{k}")).unwrap();
        }
        sim.run_for(Duration::from_secs(2))?;
    }
    let id0 = sim.id(hosts[0]).unwrap();
    let local = sim.node(hosts[0]).unwrap().local_node();
    assert_eq!(local.entries.len(), 10);
    for h in &hosts[1..] {
        let view = sim.node(*h).unwrap().node(&id0).unwrap();
        assert_eq!(view.entries, local.entries, "node {h}");
        assert_eq!(view.version, local.version);
    }
    Ok(())
}

#[test]
fn a_100_kib_value_reaches_a_peer_with_1400_byte_packets() -> Result<(), Failure> {
    let (mut sim, hosts) = net(2, |c| c.max_packet_size = 1400);
    sim.record_outputs();
    form(&mut sim, &hosts)?;
    let big: String = (0..100 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    sim.upsert(hosts[0], "blob", &big).unwrap();
    sim.upsert(hosts[0], "small", "after the blob").unwrap();
    sim.run_for(Duration::from_secs(3))?;
    let id0 = sim.id(hosts[0]).unwrap();
    let view = sim.node(hosts[1]).unwrap().node(&id0).unwrap();
    assert_eq!(view.entries.get("blob").map(String::len), Some(big.len()));
    assert_eq!(view.entries["small"], "after the blob");
    let largest = largest_datagram(&sim);
    assert!(largest <= 1400, "datagram of {largest} bytes");
    Ok(())
}

#[test]
fn a_node_far_behind_catches_up_through_a_stream_push() -> Result<(), Failure> {
    let (mut sim, hosts) = net(2, |c| c.max_packet_size = 512);
    sim.record_outputs();
    for k in 0..200 {
        sim.upsert(hosts[0], &format!("key-{k:03}"), &"x".repeat(40))
            .unwrap();
    }
    form(&mut sim, &hosts)?;
    sim.run_for(Duration::from_secs(2))?;
    let id0 = sim.id(hosts[0]).unwrap();
    assert_eq!(
        sim.node(hosts[1])
            .unwrap()
            .node(&id0)
            .unwrap()
            .entries
            .len(),
        200
    );
    // Streams carried the bulk; datagrams never exceeded the limit.
    assert!(largest_datagram(&sim) <= 512);
    Ok(())
}

/// Every output of two nodes (seeded from `seed`) exchanging state.
fn run_pair(seed: u64) -> Result<Vec<LoggedOutput>, Failure> {
    let mut sim = lossless(seed, |_| {});
    sim.record_outputs();
    let step = Duration::from_millis(137);
    sim.run_for(Duration::from_secs(1))?;
    let (a, b) = (sim.add_node(), sim.add_node());
    sim.upsert(a, "k", "v").unwrap();
    sim.join(b, &["127.0.0.1:7000"]).unwrap();
    sim.run_for(step * 21)?;
    sim.upsert(b, "late", "write").unwrap();
    sim.run_for(step * 19)?;
    Ok(sim.outputs().to_vec())
}

#[test]
fn same_seeds_and_inputs_give_byte_identical_outputs() -> Result<(), Failure> {
    let first = run_pair(7)?;
    assert!(
        first
            .iter()
            .any(|o| matches!(o.output, Output::Transmit { .. }))
    );
    assert_eq!(first, run_pair(7)?);
    assert_ne!(first, run_pair(8)?);
    Ok(())
}
