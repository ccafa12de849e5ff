//! State merging under loss, duplication and reordering, and the datagram
//! size limit under random states.

mod lossless;

use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use kite_proto::{Limits, NodeId, Output};
use kite_sim::{Failure, InvariantConfig, LinkModel, NetworkModel, Sim};
use lossless::lossless;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// A failed run as a failed proptest case.
fn fail(failure: Failure) -> TestCaseError {
    TestCaseError::fail(failure.to_string())
}

#[derive(Clone, Debug)]
enum Op {
    Upsert(u8, String),
    Delete(u8),
    /// A gossip round over a faulty network.
    Round {
        loss: f64,
        duplicate: f64,
        reorder: f64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12, "[a-z]{0,12}").prop_map(|(k, v)| Op::Upsert(k, v)),
        3 => (0u8..12).prop_map(Op::Delete),
        3 => (0.0..0.5f64, 0.0..0.5f64, 0.0..0.5f64)
            .prop_map(|(loss, duplicate, reorder)| Op::Round { loss, duplicate, reorder }),
    ]
}

/// How long a reordered datagram may be held back: several rounds, so
/// stale packets arrive after newer ones.
const HOLD: Duration = Duration::from_secs(3);
/// One gossip round of the test (the gossip interval is 500 ms).
const ROUND: Duration = Duration::from_millis(600);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn b_converges_on_a_live_map_after_one_lossless_exchange(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        // Versions are swept every millisecond and datagrams spread over
        // tens of them, so a version that went down between two deliveries
        // fails the run (the sweep checks every node's view of every node).
        // The per-event resurrection check is off: when a compaction and a
        // new value of a key arrive in one batch, B reports the key deleted
        // then set, which that check takes for a resurrection.
        let mut sim = Sim::builder(seed)
            .network(NetworkModel::default().link(LinkModel::perfect()))
            .invariants(InvariantConfig { sweep_every: Some(Duration::from_millis(1)), events: false })
            .node_config(|c| {
                c.compact_threshold = 4;
                c.suspicion_threshold = 1e9;
            })
            .build();
        let (a, b) = (sim.add_node(), sim.add_node());
        // B learns A over a lossless join.
        sim.join(b, &["127.0.0.1:7000"]).unwrap();
        sim.run_for(Duration::ZERO).map_err(fail)?;
        let a_id = sim.id(a).unwrap();
        prop_assert!(sim.node(b).unwrap().node(&a_id).is_some());
        for op in ops {
            match op {
                Op::Upsert(k, v) => sim.upsert(a, &format!("k{k}"), &v).unwrap(),
                Op::Delete(k) => sim.delete(a, &format!("k{k}")).unwrap(),
                Op::Round { loss, duplicate, reorder } => {
                    let link = LinkModel::perfect()
                        .latency(Duration::from_millis(1))
                        .jitter(Duration::from_millis(40))
                        .loss(loss)
                        .duplicate(duplicate)
                        .reorder(reorder, HOLD);
                    *sim.network_mut() = NetworkModel::default().link(link);
                    sim.run_for(ROUND).map_err(fail)?;
                }
            }
        }
        // Stale packets still in flight arrive late and streams still open
        // finish or time out, while A and B are cut off from each other so
        // that no new exchange starts (a partition drops only new packets).
        let cut = sim.partition(&[a], &[b]);
        *sim.network_mut() = NetworkModel::default().link(LinkModel::perfect());
        let stream_timeout = sim.node(a).unwrap().config().stream_timeout;
        sim.run_for(HOLD.max(stream_timeout)).map_err(fail)?;
        // Then, on a healthy network, one lossless exchange is enough.
        sim.heal(cut);
        let a_live = sim.node(a).unwrap().local_node().entries;
        sim.run_until(
            |sim| sim.node(b).unwrap().node(&a_id).map(|n| n.entries) == Some(a_live.clone()),
            ROUND,
        )
        .map_err(fail)?;
    }
}

fn long_id(i: usize, len: usize) -> NodeId {
    let mut s = format!("{i}-");
    while s.len() < len {
        s.push('x');
    }
    NodeId::new(s).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_datagram_fits_max_packet_size(
        packet in 512usize..2000,
        id_len in 8usize..=64,
        writes in prop::collection::vec((0usize..4, 1usize..=64, 0usize..=3000), 1..40),
        v6 in any::<bool>(),
    ) {
        let limits = Limits { max_key_len: 64, max_value_len: 3000, ..Limits::default() };
        let mut sim = lossless(1, |_| {});
        sim.record_outputs();
        let mut hosts = Vec::new();
        for i in 0..4 {
            let limits = limits.clone();
            let tweak = move |c: &mut kite_proto::Config| {
                c.node_id = Some(long_id(i, id_len));
                c.max_packet_size = packet;
                c.limits = limits;
            };
            hosts.push(if v6 {
                let ip = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0xffff, 1 + i as u16);
                sim.add_node_at(SocketAddr::new(ip.into(), 65535), tweak)
            } else {
                sim.add_node_with(tweak)
            });
        }
        lossless::form(&mut sim, &hosts).map_err(fail)?;
        for (node, key_len, value_len) in writes {
            let key: String = std::iter::repeat_n('k', key_len).collect();
            let key = format!("{}{}", key.len(), &key[..key_len - key_len.to_string().len().min(key_len)]);
            let value: String = std::iter::repeat_n('v', value_len).collect();
            sim.upsert(hosts[node], &key, &value).unwrap();
        }
        sim.run_for(Duration::from_secs(4)).map_err(fail)?;
        let mut datagrams = 0;
        for o in sim.outputs() {
            if let Output::Transmit { payload, .. } = &o.output {
                datagrams += 1;
                prop_assert!(payload.len() <= packet, "{} sent {} > {}", o.host, payload.len(), packet);
            }
        }
        prop_assert!(datagrams > 0);
        // And the state still converged.
        for i in &hosts {
            for j in &hosts {
                let id = sim.id(*j).unwrap();
                let view = sim.node(*i).unwrap().node(&id).map(|n| n.entries);
                prop_assert_eq!(view, Some(sim.node(*j).unwrap().local_node().entries));
            }
        }
    }
}
