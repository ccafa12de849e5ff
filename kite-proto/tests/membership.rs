//! Failure detection, recovery, graceful leave and expiry.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use kite_proto::wire::{self, Delta, Digest, DigestEntry, Message, NodeDelta};
use kite_proto::{
    Event, LeaveError, LocalStateError, Node, NodeId, NodeStatus, Output, SeededRng, Timestamp,
};
use support::{Net, config};

fn fast(c: &mut kite_proto::Config) {
    c.gossip_interval = Duration::from_millis(100);
    c.suspicion_threshold = 8.0;
    c.node_expiry = Duration::from_secs(30);
}

fn status(net: &Net, observer: usize, of: usize) -> Option<NodeStatus> {
    net.nodes[observer].node(&net.id(of)).map(|n| n.status)
}

#[test]
fn a_crashed_node_is_reported_down_then_up_when_it_returns() {
    let mut net = Net::new(4, fast);
    net.form();
    net.crashed.insert(3);
    net.run_for(Duration::from_secs(10));
    let id3 = net.id(3);
    for i in 0..3 {
        assert_eq!(status(&net, i, 3), Some(NodeStatus::Down), "observer {i}");
        let downs = net
            .events_of(i)
            .iter()
            .filter(|e| **e == Event::NodeDown { id: id3.clone() })
            .count();
        assert_eq!(downs, 1, "observer {i}");
    }
    // It comes back (same process, e.g. after a network cut).
    net.crashed.remove(&3);
    net.run_for(Duration::from_secs(3));
    for i in 0..3 {
        assert_eq!(status(&net, i, 3), Some(NodeStatus::Alive), "observer {i}");
        assert!(
            net.events_of(i)
                .contains(&Event::NodeUp { id: id3.clone() })
        );
    }
}

#[test]
fn a_healthy_cluster_reports_no_down() {
    let mut net = Net::new(5, fast);
    net.form();
    net.run_for(Duration::from_secs(60));
    let downs: Vec<_> = net
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::NodeDown { .. }))
        .collect();
    assert!(downs.is_empty(), "{downs:?}");
}

#[test]
fn leave_notifies_at_most_three_nodes_and_everyone_reports_left() {
    let mut net = Net::new(6, fast);
    net.form();
    net.nodes[5].leave(net.now).unwrap();
    net.run_for(Duration::from_secs(3));
    let id5 = net.id(5);
    for i in 0..5 {
        assert_eq!(status(&net, i, 5), Some(NodeStatus::Left), "observer {i}");
        assert!(
            !net.events_of(i)
                .contains(&Event::NodeDown { id: id5.clone() })
        );
    }
    assert_eq!(
        net.nodes[5].upsert_local("k", "v"),
        Err(LocalStateError::Left)
    );
    assert_eq!(net.nodes[5].leave(net.now), Err(LeaveError::AlreadyLeft));
}

#[test]
fn leave_reports_how_many_nodes_acknowledged() {
    let mut net = Net::new(6, fast);
    net.form();
    net.nodes[5].leave(net.now).unwrap();
    net.step();
    let outcome: Vec<_> = net
        .events_of(5)
        .into_iter()
        .filter_map(|e| match e {
            Event::LeaveCompleted { result } => Some(result),
            _ => None,
        })
        .collect();
    assert_eq!(outcome, vec![Ok(3)]);
    let pushes_from_5 = net.nodes[5].stats().stream_requests_out;
    // 5 joins were answered by node 0; node 5 sent one join request and 3 leave notifications
    // (plus any state pushes, which a small state never needs).
    assert_eq!(pushes_from_5, 4);
}

#[test]
fn leave_errors_when_nobody_can_be_told() {
    let mut net = Net::new(2, fast);
    net.nodes[1].leave(net.now).unwrap();
    net.step();
    assert!(net.events_of(1).contains(&Event::LeaveCompleted {
        result: Err(LeaveError::NoPeers)
    }));

    let mut net = Net::new(2, fast);
    net.form();
    net.crashed.insert(0);
    net.nodes[1].leave(net.now).unwrap();
    net.step();
    assert!(net.events_of(1).contains(&Event::LeaveCompleted {
        result: Err(LeaveError::NoneNotified { tried: 1 })
    }));
}

#[test]
fn left_and_down_nodes_expire_and_a_left_node_is_never_rediscovered() {
    let mut net = Net::new(5, fast);
    net.form();
    net.nodes[4].leave(net.now).unwrap();
    net.crashed.insert(3);
    // Node 2 cannot hear datagrams for a while: it keeps a stale view and,
    // when it hears again, gossips the left node to nodes that expired it.
    net.deaf.insert(2);
    net.run_for(Duration::from_secs(20));
    net.deaf.remove(&2);
    net.run_for(Duration::from_secs(40));
    let (id3, id4) = (net.id(3), net.id(4));
    for i in 0..2 {
        assert_eq!(
            status(&net, i, 3),
            None,
            "observer {i} still has the crashed node"
        );
        assert_eq!(
            status(&net, i, 4),
            None,
            "observer {i} still has the left node"
        );
        let events = net.events_of(i);
        assert!(events.contains(&Event::NodeExpired { id: id3.clone() }));
        assert!(events.contains(&Event::NodeExpired { id: id4.clone() }));
        let rejoins = events
            .iter()
            .filter(|e| matches!(e, Event::NodeJoined { id, .. } if *id == id4))
            .count();
        assert_eq!(
            rejoins, 1,
            "observer {i} re-discovered the left node: {events:?}"
        );
    }
}

#[test]
fn an_expired_node_that_is_alive_comes_back_as_a_new_join() {
    let mut net = Net::new(3, fast);
    net.form();
    net.crashed.insert(2);
    net.run_for(Duration::from_secs(45));
    assert_eq!(status(&net, 0, 2), None);
    net.crashed.remove(&2);
    net.run_for(Duration::from_secs(5));
    assert_eq!(status(&net, 0, 2), Some(NodeStatus::Alive));
    let joins = net
        .events_of(0)
        .iter()
        .filter(|e| matches!(e, Event::NodeJoined { id, .. } if *id == net.id(2)))
        .count();
    assert_eq!(joins, 2);
}

#[test]
fn a_local_stall_does_not_convict_peers() {
    let mut net = Net::new(3, fast);
    net.form();
    // Node 0 stalls for 30 s (it gets no timeouts and no datagrams), then runs on.
    net.crashed.insert(0);
    net.run_for(Duration::from_secs(30));
    net.crashed.remove(&0);
    let now = net.now;
    net.nodes[0].handle_timeout(now);
    net.step();
    let downs: Vec<_> = net
        .events_of(0)
        .into_iter()
        .filter(|e| matches!(e, Event::NodeDown { .. }))
        .collect();
    assert!(downs.is_empty(), "{downs:?}");
}

/// A delta admitting `ids` (no state, heartbeat `heartbeat`), as a datagram.
fn admit(ids: &[NodeId], heartbeat: u64) -> Vec<u8> {
    let nodes = ids
        .iter()
        .enumerate()
        .map(|(i, id)| NodeDelta {
            id: id.clone(),
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
    let mut node = Node::new(config(0), SeededRng::from_seed_u64(1), Timestamp::ZERO).unwrap();
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
    let mut node = Node::new(config(0), SeededRng::from_seed_u64(4), Timestamp::ZERO).unwrap();
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
