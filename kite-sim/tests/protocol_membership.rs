//! Failure detection, recovery, graceful leave and expiry.

mod lossless;

use std::time::Duration;

use kite_proto::wire::{Message, decode};
use kite_proto::{Config, Event, LeaveError, LocalStateError, NodeId, NodeStatus, Output};
use kite_sim::{Failure, HostId, Sim};
use lossless::{events_of, form, net, settle};

fn fast(c: &mut Config) {
    c.gossip_interval = Duration::from_millis(100);
    c.suspicion_threshold = 8.0;
    c.node_expiry = Duration::from_secs(30);
}

fn id(sim: &Sim, host: HostId) -> NodeId {
    sim.id(host).expect("running")
}

fn status(sim: &Sim, observer: HostId, of: &NodeId) -> Option<NodeStatus> {
    sim.node(observer).unwrap().node(of).map(|n| n.status)
}

#[test]
fn a_crashed_node_is_reported_down_then_up_when_it_returns() -> Result<(), Failure> {
    let (mut sim, hosts) = net(4, fast);
    form(&mut sim, &hosts)?;
    let id3 = id(&sim, hosts[3]);
    // The same process is cut off (a network cut), then comes back.
    let cut = sim.isolate(hosts[3]);
    sim.run_for(Duration::from_secs(10))?;
    for h in &hosts[..3] {
        assert_eq!(
            status(&sim, *h, &id3),
            Some(NodeStatus::Down),
            "observer {h}"
        );
        let downs = events_of(&sim, *h)
            .iter()
            .filter(|e| **e == Event::NodeDown { id: id3.clone() })
            .count();
        assert_eq!(downs, 1, "observer {h}");
    }
    sim.heal(cut);
    sim.run_for(Duration::from_secs(3))?;
    for h in &hosts[..3] {
        assert_eq!(
            status(&sim, *h, &id3),
            Some(NodeStatus::Alive),
            "observer {h}"
        );
        assert!(events_of(&sim, *h).contains(&Event::NodeUp { id: id3.clone() }));
    }
    Ok(())
}

/// A down peer is most likely dead: it is probed with our own digest entry
/// only, not sent a full digest every round, and the probes still bring a
/// cut node back once the cut heals.
#[test]
fn a_down_peer_gets_small_probes_and_comes_back_through_them() -> Result<(), Failure> {
    let (mut sim, hosts) = net(40, fast);
    form(&mut sim, &hosts)?;
    let cut_host = hosts[7];
    let cut_id = id(&sim, cut_host);
    let cut = sim.isolate(cut_host);
    sim.run_for(Duration::from_secs(10))?;
    for h in hosts.iter().filter(|h| **h != cut_host) {
        assert_eq!(
            status(&sim, *h, &cut_id),
            Some(NodeStatus::Down),
            "observer {h}"
        );
    }
    sim.record_outputs();
    sim.run_for(Duration::from_secs(3))?;
    let to_cut = sim.addr(cut_host);
    let mut probes = 0;
    for logged in sim.outputs().iter().filter(|o| o.host != cut_host) {
        let Output::Transmit { to, payload } = &logged.output else {
            continue;
        };
        if *to != to_cut {
            continue;
        }
        let Ok(Message::DigestRequest { from, digest }) = decode(payload) else {
            panic!("only digest requests go to a down peer");
        };
        assert!(!digest.complete);
        assert_eq!(digest.entries.len(), 1, "only the sender's own entry");
        assert_eq!(digest.entries[0].id, from);
        assert!(payload.len() < 40, "a probe of {} bytes", payload.len());
        probes += 1;
    }
    // 39 nodes, 30 rounds, each probing one of its down peers a round.
    assert!(probes >= 39 * 25, "only {probes} probes");
    sim.heal(cut);
    sim.run_for(Duration::from_secs(1))?;
    for h in hosts.iter().filter(|h| **h != cut_host) {
        assert_eq!(
            status(&sim, *h, &cut_id),
            Some(NodeStatus::Alive),
            "observer {h}"
        );
    }
    Ok(())
}

#[test]
fn a_healthy_cluster_reports_no_down() -> Result<(), Failure> {
    let (mut sim, hosts) = net(5, fast);
    form(&mut sim, &hosts)?;
    sim.run_for(Duration::from_secs(60))?;
    let downs: Vec<_> = sim
        .events()
        .iter()
        .filter(|e| matches!(e.event, Event::NodeDown { .. }))
        .collect();
    assert!(downs.is_empty(), "{downs:?}");
    Ok(())
}

#[test]
fn leave_notifies_at_most_three_nodes_and_everyone_reports_left() -> Result<(), Failure> {
    let (mut sim, hosts) = net(6, fast);
    form(&mut sim, &hosts)?;
    sim.leave(hosts[5]).unwrap();
    sim.run_for(Duration::from_secs(3))?;
    let id5 = id(&sim, hosts[5]);
    for h in &hosts[..5] {
        assert_eq!(
            status(&sim, *h, &id5),
            Some(NodeStatus::Left),
            "observer {h}"
        );
        assert!(!events_of(&sim, *h).contains(&Event::NodeDown { id: id5.clone() }));
    }
    assert_eq!(sim.upsert(hosts[5], "k", "v"), Err(LocalStateError::Left));
    assert_eq!(sim.leave(hosts[5]), Err(LeaveError::AlreadyLeft));
    Ok(())
}

#[test]
fn leave_reports_how_many_nodes_acknowledged() -> Result<(), Failure> {
    let (mut sim, hosts) = net(6, fast);
    form(&mut sim, &hosts)?;
    sim.leave(hosts[5]).unwrap();
    settle(&mut sim)?;
    let outcome: Vec<_> = events_of(&sim, hosts[5])
        .into_iter()
        .filter_map(|e| match e {
            Event::LeaveCompleted { result } => Some(result),
            _ => None,
        })
        .collect();
    assert_eq!(outcome, vec![Ok(3)]);
    let pushes_from_5 = sim.node(hosts[5]).unwrap().stats().stream_requests_out;
    // 5 joins were answered by node 0; node 5 sent one join request and 3 leave notifications
    // (plus any state pushes, which a small state never needs).
    assert_eq!(pushes_from_5, 4);
    Ok(())
}

#[test]
fn leave_succeeds_with_nobody_to_tell_and_fails_with_nobody_answering() -> Result<(), Failure> {
    let (mut sim, hosts) = net(2, fast);
    sim.leave(hosts[1]).unwrap();
    settle(&mut sim)?;
    // Nobody to tell is no failure: the node has left all the same.
    assert!(events_of(&sim, hosts[1]).contains(&Event::LeaveCompleted { result: Ok(0) }));
    assert!(sim.node(hosts[1]).unwrap().has_left());

    let (mut sim, hosts) = net(2, fast);
    form(&mut sim, &hosts)?;
    sim.crash(hosts[0]);
    sim.leave(hosts[1]).unwrap();
    settle(&mut sim)?;
    assert!(events_of(&sim, hosts[1]).contains(&Event::LeaveCompleted {
        result: Err(LeaveError::NoneNotified { tried: 1 })
    }));
    Ok(())
}

#[test]
fn left_and_down_nodes_expire_and_a_left_node_is_never_rediscovered() -> Result<(), Failure> {
    let (mut sim, hosts) = net(5, fast);
    form(&mut sim, &hosts)?;
    let (id3, id4) = (id(&sim, hosts[3]), id(&sim, hosts[4]));
    sim.leave(hosts[4]).unwrap();
    sim.crash(hosts[3]);
    // Node 2 cannot hear datagrams for a while (its streams still work): it
    // keeps a stale view and, when it hears again, gossips the left node to
    // nodes that expired it.
    sim.set_deaf(hosts[2], true);
    sim.run_for(Duration::from_secs(20))?;
    assert!(sim.metrics().partitioned > 0, "node 2 heard every datagram");
    sim.set_deaf(hosts[2], false);
    sim.run_for(Duration::from_secs(40))?;
    for h in &hosts[..2] {
        assert_eq!(
            status(&sim, *h, &id3),
            None,
            "observer {h} still has the crashed node"
        );
        assert_eq!(
            status(&sim, *h, &id4),
            None,
            "observer {h} still has the left node"
        );
        let events = events_of(&sim, *h);
        assert!(events.contains(&Event::NodeExpired { id: id3.clone() }));
        assert!(events.contains(&Event::NodeExpired { id: id4.clone() }));
        let rejoins = events
            .iter()
            .filter(|e| matches!(e, Event::NodeJoined { id, .. } if *id == id4))
            .count();
        assert_eq!(
            rejoins, 1,
            "observer {h} re-discovered the left node: {events:?}"
        );
    }
    Ok(())
}

#[test]
fn an_expired_node_that_is_alive_comes_back_as_a_new_join() -> Result<(), Failure> {
    let (mut sim, hosts) = net(3, fast);
    form(&mut sim, &hosts)?;
    let id2 = id(&sim, hosts[2]);
    // The process keeps running, cut off, long enough to be expired.
    let cut = sim.isolate(hosts[2]);
    sim.run_for(Duration::from_secs(45))?;
    assert_eq!(status(&sim, hosts[0], &id2), None);
    sim.heal(cut);
    sim.run_for(Duration::from_secs(5))?;
    assert_eq!(status(&sim, hosts[0], &id2), Some(NodeStatus::Alive));
    let joins = events_of(&sim, hosts[0])
        .iter()
        .filter(|e| matches!(e, Event::NodeJoined { id, .. } if *id == id2))
        .count();
    assert_eq!(joins, 2);
    Ok(())
}

#[test]
fn a_local_stall_does_not_convict_peers() -> Result<(), Failure> {
    let (mut sim, hosts) = net(3, fast);
    form(&mut sim, &hosts)?;
    // Node 0 stalls for 30 s: no timeouts, and the datagrams that reach it
    // meanwhile are dropped. When it resumes, its first input is its
    // overdue deadline; then it runs on.
    let stall = Duration::from_secs(30);
    sim.set_deaf(hosts[0], true);
    sim.pause(hosts[0], stall);
    sim.run_for(stall - Duration::from_millis(1))?;
    assert!(sim.metrics().partitioned > 0, "node 0 heard every datagram");
    sim.set_deaf(hosts[0], false);
    sim.run_for(Duration::from_millis(1))?;
    let downs: Vec<_> = events_of(&sim, hosts[0])
        .into_iter()
        .filter(|e| matches!(e, Event::NodeDown { .. }))
        .collect();
    assert!(downs.is_empty(), "{downs:?}");
    Ok(())
}
