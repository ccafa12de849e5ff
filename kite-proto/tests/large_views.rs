//! Views larger than a datagram digest, as one node sees them: its digests
//! are drawn (news first, no node twice, within the packet), and while its
//! view grows it sends the whole view over a stream every 30 rounds; a
//! settled view, or one whose digest fits a datagram, never does.
//! (Large clusters end to end: the kite-sim report, `docs/benchmarks.md`.)

use std::net::SocketAddr;
use std::time::Duration;

use kite_proto::wire::{self, Delta, Message, NodeDelta, Update, UpdateKind};
use kite_proto::{Config, Node, NodeId, Output, SeededRng, StreamError, Timestamp};

fn node(max_packet_size: usize) -> Node {
    let mut c = Config::new("127.0.0.1:7000".parse().unwrap());
    c.node_id = Some(NodeId::new("node-0").unwrap());
    c.max_packet_size = max_packet_size;
    Node::new(c, SeededRng::from_seed_u64(1), Timestamp::ZERO).unwrap()
}

/// A delta naming peers `0..count` (no state) at `heartbeat`, as a
/// datagram: admits those not known yet, and keeps the others alive.
fn admit(count: usize, heartbeat: u64) -> Vec<u8> {
    let nodes = (0..count)
        .map(|i| NodeDelta {
            id: NodeId::new(format!("peer-{i}")).unwrap(),
            generation: 0,
            addr: SocketAddr::from(([127, 0, (i / 250) as u8 + 1, (i % 250) as u8], 7000)),
            heartbeat,
            from_version: 0,
            updates: Vec::new(),
        })
        .collect();
    wire::encode(&Message::Delta {
        from: NodeId::new("peer-0").unwrap(),
        delta: Delta { nodes },
    })
}

/// Runs `steps` steps of 500 ms in which `peers` peers heartbeat, answering
/// every stream request with an error; returns the step and digest length
/// of each full sync sent.
fn steps(node: &mut Node, now: &mut Timestamp, peers: usize, steps: usize) -> Vec<(usize, usize)> {
    let mut syncs = Vec::new();
    for step in 0..steps {
        *now = *now + Duration::from_millis(500);
        let heartbeat = now.as_micros() / 1000;
        node.handle_datagram(
            *now,
            "127.0.0.1:7001".parse().unwrap(),
            &admit(peers, heartbeat),
        );
        node.handle_timeout(*now);
        loop {
            match node.poll_output() {
                Output::Timeout(_) => break,
                Output::Request { id, payload, .. } => {
                    if let Ok(Message::JoinRequest { digest, .. }) = wire::decode(&payload) {
                        assert!(digest.complete);
                        syncs.push((step, digest.entries.len()));
                    }
                    node.handle_response(*now, id, Err(StreamError::Closed));
                }
                _ => {}
            }
        }
    }
    syncs
}

#[test]
fn a_growing_view_too_large_for_a_digest_is_synced_whole_every_30_rounds() {
    let mut node = node(1400);
    let mut now = Timestamp::ZERO;
    // 600 peers do not fit a 1400-byte digest; the view grows every 20
    // rounds for 200 rounds.
    let mut syncs = Vec::new();
    for step in 1..=10 {
        syncs.extend(
            steps(&mut node, &mut now, step * 60, 20)
                .into_iter()
                .map(|(round, len)| (step * 20 + round, len)),
        );
    }
    // Digests are truncated from 120 peers on (step 20). A round comes
    // every 450 to 550 ms, so one every 1 to 2 steps of 500 ms (about 1.45
    // on average): the first
    // sync within 30 rounds of that, then one every 30 rounds.
    assert!(syncs.len() >= 4, "{syncs:?}");
    assert!((20..20 + 70).contains(&syncs[0].0), "{syncs:?}");
    assert!(
        syncs
            .windows(2)
            .all(|w| (30..=60).contains(&(w[1].0 - w[0].0))),
        "{syncs:?}"
    );
    // Each lists the whole view and our own entry.
    assert!(
        syncs
            .iter()
            .all(|(round, len)| *len == 60 * (round / 20) + 1),
        "{syncs:?}"
    );
    // Settled: at most one more within 60 rounds (120 steps), then none.
    let after = steps(&mut node, &mut now, 600, 300);
    assert!(after.iter().all(|(step, _)| *step < 120), "{after:?}");
}

#[test]
fn a_view_that_fits_a_digest_is_never_synced() {
    let mut node = node(1400);
    let mut now = Timestamp::ZERO;
    let mut syncs = Vec::new();
    for step in 1..=5 {
        syncs.extend(steps(&mut node, &mut now, step * 4, 40));
    }
    assert!(syncs.is_empty(), "{syncs:?}");
}

#[test]
fn a_large_views_digest_lists_the_news_first_and_no_node_twice() {
    let mut node = node(1400);
    let mut now = Timestamp::ZERO;
    steps(&mut node, &mut now, 2000, 3);
    // Peer 1234 writes a key: its state advanced here.
    let id = NodeId::new("peer-1234").unwrap();
    let update = wire::encode(&Message::Delta {
        from: id.clone(),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: id.clone(),
                generation: 0,
                addr: SocketAddr::from(([127, 0, 5, 234], 7000)),
                heartbeat: 10_000,
                from_version: 0,
                updates: vec![Update {
                    version: 1,
                    kind: UpdateKind::Set {
                        key: "k".into(),
                        value: "v".into(),
                    },
                }],
            }],
        },
    });
    node.handle_datagram(now, "127.0.0.1:7001".parse().unwrap(), &update);
    for _ in 0..5 {
        now = now + Duration::from_millis(500);
        node.handle_timeout(now);
        while let output = node.poll_output()
            && !matches!(output, Output::Timeout(_))
        {
            let Output::Transmit { payload, .. } = output else {
                continue;
            };
            let Ok(Message::DigestRequest { digest, .. }) = wire::decode(&payload) else {
                continue;
            };
            assert!(payload.len() <= 1400 && !digest.complete);
            assert!(digest.entries.len() > 50, "{}", digest.entries.len());
            let mut ids: Vec<&NodeId> = digest.entries.iter().map(|e| &e.id).collect();
            // Our own entry, then the node whose state changed.
            assert_eq!(ids[0].as_str(), "node-0");
            assert_eq!(ids[1], &id);
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), digest.entries.len());
        }
    }
}
