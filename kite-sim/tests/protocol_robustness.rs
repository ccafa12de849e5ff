//! Hostile input inside a running cluster: typed errors, counters, no state
//! change, and the cluster keeps working. (Single-node checks are in
//! kite-proto's `robustness` tests.)

mod lossless;

use std::time::Duration;

use kite_proto::wire;
use kite_proto::{Output, SeededRng, StreamId};
use kite_sim::Failure;
use lossless::{form, net};
use rand_core::RngCore;

#[test]
fn random_datagrams_and_requests_change_nothing_and_are_counted() -> Result<(), Failure> {
    let (mut sim, hosts) = net(3, |_| {});
    sim.upsert(hosts[0], "k", "v").unwrap();
    form(&mut sim, &hosts)?;
    let views = |sim: &kite_sim::Sim| -> Vec<_> {
        hosts
            .iter()
            .map(|h| sim.node(*h).unwrap().nodes())
            .collect()
    };
    let before = views(&sim);
    let attacker = "127.0.0.200:4000".parse().unwrap();
    sim.with_node(hosts[1], |node, now| {
        let mut rng = SeededRng::from_seed_u64(99);
        for i in 0..10_000u64 {
            let len = (rng.next_u32() % 300) as usize;
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            if i % 2 == 0 && len >= 2 {
                bytes[0] = wire::PROTOCOL_VERSION; // get past the version check
            }
            if i % 3 == 0 {
                node.handle_request(now, StreamId(i), attacker, &bytes);
                match node.poll_output() {
                    Output::Response { id, .. } => assert_eq!(id, StreamId(i)),
                    other => panic!("expected a response, got {other:?}"),
                }
            } else {
                node.handle_datagram(now, attacker, &bytes);
            }
        }
    });
    let stats = sim.node(hosts[1]).unwrap().stats();
    assert!(stats.decode_errors > 9_000, "{stats:?}");
    assert!(stats.unsupported_version > 1_000, "{stats:?}");
    assert_eq!(before, views(&sim));
    // The cluster still works.
    sim.upsert(hosts[2], "after", "attack").unwrap();
    sim.run_for(Duration::from_secs(5))?;
    let id2 = sim.id(hosts[2]).unwrap();
    assert_eq!(
        sim.node(hosts[0]).unwrap().node(&id2).unwrap().entries["after"],
        "attack"
    );
    Ok(())
}

#[test]
fn stats_count_messages_per_kind() -> Result<(), Failure> {
    let (mut sim, hosts) = net(2, |_| {});
    form(&mut sim, &hosts)?;
    let s = sim.node(hosts[1]).unwrap().stats();
    assert_eq!(s.messages_out.join_requests, 1);
    assert_eq!(s.messages_in.join_responses, 1);
    assert!(s.messages_out.digest_requests > 0 && s.messages_in.digest_responses > 0);
    assert_eq!(
        sim.node(hosts[0])
            .unwrap()
            .stats()
            .messages_in
            .join_requests,
        1
    );
    Ok(())
}
