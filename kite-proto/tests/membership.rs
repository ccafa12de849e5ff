//! Failure detection as one node sees it, fed hand-made gossip. (Failure
//! detection, leave and expiry between nodes are tested on kite-sim's
//! network, in `kite-sim/tests/protocol_membership.rs`.)

use std::net::SocketAddr;
use std::time::Duration;

use kite_proto::wire::{self, Delta, Digest, DigestEntry, Message, NodeDelta};
use kite_proto::{Config, Node, NodeId, NodeStatus, Output, SeededRng, Timestamp};

fn config() -> Config {
    let mut c = Config::new("127.0.0.1:7000".parse().unwrap());
    c.node_id = Some(NodeId::new("node-0").unwrap());
    c
}

/// A delta admitting `ids` (no state, heartbeat `heartbeat`), as a datagram.
fn admit(ids: &[NodeId], heartbeat: u64) -> Vec<u8> {
    let nodes = ids
        .iter()
        .enumerate()
        .map(|(i, id)| NodeDelta {
            id: id.clone(),
            generation: 0,
            addr: SocketAddr::from(([127, 0, 1, i as u8], 7000)),
            heartbeat,
            from_version: 0,
            updates: Vec::new(),
        })
        .collect();
    wire::encode(&Message::Delta {
        from: ids[0].clone(),
        delta: Delta { nodes },
    })
}

/// A digest naming `ids`, all with `heartbeat`, as a datagram.
fn heartbeats(ids: &[NodeId], heartbeat: u64) -> Vec<u8> {
    let entries = ids
        .iter()
        .map(|id| DigestEntry {
            id: id.clone(),
            run: 0,
            heartbeat,
            version: 0,
        })
        .collect();
    wire::encode(&Message::DigestRequest {
        from: ids[0].clone(),
        digest: Digest {
            complete: false,
            entries,
        },
    })
}

#[test]
fn a_newcomer_is_judged_by_how_often_evidence_arrives_here() {
    // Truncated digests in a large cluster: evidence of each peer arrives
    // every 5 gossip intervals (2.5 s), not every interval.
    let mut node = Node::new(config(), SeededRng::from_seed_u64(1), Timestamp::ZERO).unwrap();
    let from = SocketAddr::from(([127, 0, 1, 0], 7000));
    let old: Vec<NodeId> = (0..20)
        .map(|i| NodeId::new(format!("old-{i}")).unwrap())
        .collect();
    let newcomer = NodeId::new("newcomer").unwrap();
    let mut now = Timestamp::ZERO;
    node.handle_datagram(now, from, &admit(&old, 1));
    let run = |node: &mut Node, now: &mut Timestamp, rounds: u64, heartbeat: &mut u64| {
        for round in 0..rounds {
            *now = *now + Duration::from_millis(500);
            if round % 5 == 0 {
                *heartbeat += 1;
                node.handle_datagram(*now, from, &heartbeats(&old, *heartbeat));
            }
            node.handle_timeout(*now);
            while !matches!(node.poll_output(), Output::Timeout(_)) {}
        }
    };
    let mut heartbeat = 1;
    run(&mut node, &mut now, 400, &mut heartbeat);
    node.handle_datagram(now, from, &admit(std::slice::from_ref(&newcomer), 1));
    // 30 s without news of the newcomer: twelve typical gaps, not sixty.
    run(&mut node, &mut now, 60, &mut heartbeat);
    assert_eq!(node.node(&newcomer).unwrap().status, NodeStatus::Alive);
    assert_eq!(node.peer_count(NodeStatus::Down), 0);
    // Silent for good, it is convicted in time.
    run(&mut node, &mut now, 400, &mut heartbeat);
    assert_eq!(node.node(&newcomer).unwrap().status, NodeStatus::Down);
    assert_eq!(node.peer_count(NodeStatus::Down), 1);
}

#[test]
fn a_truncated_digest_lists_the_peers_heard_from_most_recently() {
    // 200 peers do not fit a 1400-byte digest (about 95 do); the 10 we just
    // heard from are listed, so their evidence spreads like news.
    let mut node = Node::new(config(), SeededRng::from_seed_u64(4), Timestamp::ZERO).unwrap();
    let from = SocketAddr::from(([127, 0, 1, 0], 7000));
    let peers: Vec<NodeId> = (0..200)
        .map(|i| NodeId::new(format!("peer-{i}")).unwrap())
        .collect();
    node.handle_datagram(Timestamp::ZERO, from, &admit(&peers, 1));
    let hot = &peers[100..110];
    let mut now = Timestamp::ZERO;
    let mut sent = Vec::new();
    while now < Timestamp::from_millis(8_000) {
        now = now + Duration::from_millis(100);
        if now == Timestamp::from_millis(6_000) {
            node.handle_datagram(now, from, &heartbeats(hot, 2));
        }
        node.handle_timeout(now);
        loop {
            match node.poll_output() {
                Output::Timeout(_) => break,
                Output::Transmit { payload, .. } if now > Timestamp::from_millis(6_000) => {
                    sent.push(wire::decode(&payload).unwrap());
                }
                _ => {}
            }
        }
    }
    let digests: Vec<&Digest> = sent
        .iter()
        .filter_map(|msg| match msg {
            Message::DigestRequest { digest, .. } => Some(digest),
            _ => None,
        })
        .collect();
    assert!(!digests.is_empty());
    for digest in digests {
        assert!(!digest.complete && digest.entries.len() < 150);
        for id in hot {
            assert!(
                digest.entries.iter().any(|e| &e.id == id),
                "{id} not listed"
            );
        }
    }
}
