//! State propagation: updates, deletes, compaction, large values, determinism.

mod support;

use std::time::Duration;

use kite_proto::{Config, Event, Output, SeededRng, Timestamp};
use support::Net;

#[test]
fn updates_and_deletes_reach_every_node_with_events() {
    let mut net = Net::new(5, |_| {});
    net.form();
    net.nodes[2].upsert_local("status", "ready").unwrap();
    net.run_for(Duration::from_secs(5));
    net.nodes[2].delete_local("status").unwrap();
    net.run_for(Duration::from_secs(5));
    let id2 = net.id(2);
    for i in [0, 1, 3, 4] {
        let events = net.events_of(i);
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
            "node {i}: {events:?}"
        );
        assert!(net.nodes[i].node(&id2).unwrap().entries.is_empty());
    }
}

#[test]
fn compaction_leaves_peers_with_exactly_the_live_keys() {
    let mut net = Net::new(3, |c| c.compact_threshold = 10);
    net.form();
    for round in 0..5 {
        for k in 0..8 {
            net.nodes[0]
                .upsert_local(&format!("key-{round}-{k}"), "v")
                .unwrap();
        }
        for k in 0..6 {
            net.nodes[0]
                .delete_local(&format!("key-{round}-{k}"))
                .unwrap();
        }
        net.run_for(Duration::from_secs(2));
    }
    let id0 = net.id(0);
    let live = net.nodes[0].local_node().entries;
    assert_eq!(live.len(), 10);
    for i in 1..3 {
        let view = net.nodes[i].node(&id0).unwrap();
        assert_eq!(view.entries, live, "node {i}");
        assert_eq!(view.version, net.nodes[0].local_node().version);
    }
}

#[test]
fn a_100_kib_value_reaches_a_peer_with_1400_byte_packets() {
    let mut net = Net::new(2, |c| c.max_packet_size = 1400);
    net.form();
    let big: String = (0..100 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    net.nodes[0].upsert_local("blob", &big).unwrap();
    net.nodes[0]
        .upsert_local("small", "after the blob")
        .unwrap();
    net.run_for(Duration::from_secs(3));
    let id0 = net.id(0);
    let view = net.nodes[1].node(&id0).unwrap();
    assert_eq!(view.entries.get("blob").map(String::len), Some(big.len()));
    assert_eq!(view.entries["small"], "after the blob");
    let largest = net.datagrams.iter().map(|(_, _, d)| d.len()).max().unwrap();
    assert!(largest <= 1400, "datagram of {largest} bytes");
}

#[test]
fn a_node_far_behind_catches_up_through_a_stream_push() {
    let mut net = Net::new(2, |c| c.max_packet_size = 512);
    for k in 0..200 {
        net.nodes[0]
            .upsert_local(&format!("key-{k:03}"), &"x".repeat(40))
            .unwrap();
    }
    net.form();
    net.run_for(Duration::from_secs(2));
    let id0 = net.id(0);
    assert_eq!(net.nodes[1].node(&id0).unwrap().entries.len(), 200);
    // Streams carried the bulk; datagrams never exceeded the limit.
    assert!(net.datagrams.iter().all(|(_, _, d)| d.len() <= 512));
}

fn run_pair(seed: u64) -> Vec<Output> {
    let a_addr = support::addr(0);
    let b_addr = support::addr(1);
    let start = Timestamp::from_millis(1_000);
    let mut a =
        kite_proto::Node::new(Config::new(a_addr), SeededRng::from_seed_u64(seed), start).unwrap();
    let mut b = kite_proto::Node::new(
        Config::new(b_addr),
        SeededRng::from_seed_u64(seed + 1),
        start,
    )
    .unwrap();
    a.upsert_local("k", "v").unwrap();
    b.join(start, &["127.0.0.1:7000"]).unwrap();
    let mut log = Vec::new();
    let mut now = start;
    let drain = |node: &mut kite_proto::Node, log: &mut Vec<Output>| -> Vec<Vec<u8>> {
        let mut sent = Vec::new();
        loop {
            let out = node.poll_output();
            let done = matches!(out, Output::Timeout(_));
            if let Output::Transmit { payload, .. } = &out {
                sent.push(payload.clone());
            }
            log.push(out);
            if done {
                return sent;
            }
        }
    };
    for step in 0..40 {
        now = now + Duration::from_millis(137);
        a.handle_timeout(now);
        b.handle_timeout(now);
        for _ in 0..3 {
            for payload in drain(&mut a, &mut log) {
                b.handle_datagram(now, a_addr, &payload);
            }
            for payload in drain(&mut b, &mut log) {
                a.handle_datagram(now, b_addr, &payload);
            }
        }
        if step == 20 {
            b.upsert_local("late", "write").unwrap();
        }
    }
    log
}

#[test]
fn same_seeds_and_inputs_give_byte_identical_outputs() {
    let first = run_pair(7);
    assert!(first.iter().any(|o| matches!(o, Output::Transmit { .. })));
    assert_eq!(first, run_pair(7));
    assert_ne!(first, run_pair(8));
}
