//! Joining through addresses and names.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use kite_proto::{Event, JoinError, NodeStatus, Output};
use support::{Net, addr};

fn join_result(net: &Net, i: usize) -> Vec<Result<Vec<kite_proto::NodeId>, JoinError>> {
    net.events_of(i)
        .into_iter()
        .filter_map(|e| match e {
            Event::JoinCompleted { result, .. } => Some(result),
            _ => None,
        })
        .collect()
}

#[test]
fn join_by_address_learns_the_whole_cluster() {
    let mut net = Net::new(4, |_| {});
    net.nodes[0]
        .upsert_local("rpc_addr", "10.0.0.1:9000")
        .unwrap();
    net.form();
    for i in 1..4 {
        assert_eq!(join_result(&net, i), vec![Ok(vec![net.id(0)])]);
    }
    for i in 0..4 {
        let view = net.nodes[i].nodes();
        assert_eq!(view.len(), 4, "node {i} sees {view:?}");
        assert!(view.iter().all(|n| n.status == NodeStatus::Alive));
    }
    let id0 = net.id(0);
    assert_eq!(
        net.nodes[3].node(&id0).unwrap().entries["rpc_addr"],
        "10.0.0.1:9000"
    );
    assert!(net.events_of(3).contains(&Event::KeyUpserted {
        id: id0,
        key: "rpc_addr".into(),
        value: "10.0.0.1:9000".into()
    }));
}

#[test]
fn join_with_a_bare_ip_uses_the_local_port() {
    let mut net = Net::new(2, |_| {});
    net.nodes[1].join(net.now, &["127.0.0.1"]).unwrap();
    net.step();
    assert_eq!(join_result(&net, 1), vec![Ok(vec![net.id(0)])]);
}

#[test]
fn join_with_a_bare_host_resolves_it_and_uses_the_local_port() {
    let mut net = Net::new(3, |_| {});
    net.dns
        .insert("kite.local".into(), vec![addr(0).ip(), addr(1).ip()]);
    let join = net.nodes[2].join(net.now, &["kite.local"]).unwrap();
    let outputs: Vec<Output> = std::iter::from_fn(|| match net.nodes[2].poll_output() {
        Output::Timeout(_) => None,
        out => Some(out),
    })
    .collect();
    assert_eq!(
        outputs,
        vec![Output::Resolve {
            name: "kite.local".into()
        }]
    );
    let now = net.now;
    net.nodes[2].handle_resolved(now, "kite.local", Ok(vec![addr(0).ip(), addr(1).ip()]));
    net.step();
    let mut joined = match &join_result(&net, 2)[..] {
        [Ok(ids)] => ids.clone(),
        other => panic!("{other:?} for {join:?}"),
    };
    joined.sort();
    assert_eq!(joined, vec![net.id(0), net.id(1)]);
}

#[test]
fn a_name_resolving_only_to_ourselves_is_not_an_error() {
    let mut net = Net::new(1, |_| {});
    net.dns.insert("me.local".into(), vec![addr(0).ip()]);
    net.nodes[0].join(net.now, &["me.local:7000"]).unwrap();
    net.step();
    assert_eq!(join_result(&net, 0), vec![Ok(vec![])]);
}

#[test]
fn join_fails_when_no_target_answers() {
    let mut net = Net::new(2, |_| {});
    net.crashed.insert(0);
    net.nodes[1]
        .join(net.now, &["127.0.0.1:7000", "nowhere.local"])
        .unwrap();
    net.step();
    match &join_result(&net, 1)[..] {
        [Err(JoinError::NoneJoined { failures })] => {
            assert_eq!(failures.len(), 2, "{failures:?}");
            let text = JoinError::NoneJoined {
                failures: failures.clone(),
            }
            .to_string();
            assert!(
                text.contains("127.0.0.1:7000") && text.contains("nowhere.local"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_targets_are_refused_before_anything_is_sent() {
    let mut net = Net::new(1, |_| {});
    let err = net.nodes[0]
        .join(net.now, &["127.0.0.1:7000", "bad host"])
        .unwrap_err();
    assert!(matches!(err, JoinError::InvalidTarget { .. }), "{err}");
    assert!(matches!(net.nodes[0].poll_output(), Output::Timeout(_)));
}

#[test]
fn joining_nobody_succeeds_with_no_ids() {
    let mut net = Net::new(1, |_| {});
    net.nodes[0].join::<&str>(net.now, &[]).unwrap();
    net.step();
    assert_eq!(join_result(&net, 0), vec![Ok(vec![])]);
}

#[test]
fn re_resolution_finds_new_addresses_without_another_join() {
    let mut net = Net::new(4, |c| c.dns_refresh_interval = Duration::from_secs(10));
    let ip = |i: usize| -> IpAddr { addr(i).ip() };
    net.dns.insert("svc.local".into(), vec![ip(0), ip(1)]);
    net.nodes[3].join(net.now, &["svc.local:7000"]).unwrap();
    // Nodes 0 and 1 know nothing of node 2: only DNS can tell node 3 of it.
    net.run_for(Duration::from_secs(2));
    let id2 = net.id(2);
    assert!(net.nodes[3].node(&id2).is_none());
    net.dns
        .insert("svc.local".into(), vec![ip(0), ip(1), ip(2)]);
    net.run_for(Duration::from_secs(12));
    assert_eq!(
        net.nodes[3].node(&id2).map(|n| n.status),
        Some(NodeStatus::Alive)
    );
    assert_eq!(net.nodes[2].nodes().len(), 4);
}

#[test]
fn seeds_not_heard_from_are_retried_every_round() {
    let mut net = Net::new(2, |_| {});
    net.crashed.insert(0);
    net.nodes[1].join(net.now, &["127.0.0.1:7000"]).unwrap();
    net.run_for(Duration::from_secs(3));
    // The seed was down at join time; it comes up later and is found by gossip.
    net.crashed.remove(&0);
    net.run_for(Duration::from_secs(3));
    let id0 = net.id(0);
    assert_eq!(
        net.nodes[1].node(&id0).map(|n| n.status),
        Some(NodeStatus::Alive)
    );
    let to_seed = net
        .datagrams
        .iter()
        .filter(|(from, to, _)| *from == 1 && *to == addr(0))
        .count();
    assert!(to_seed >= 6, "seed contacted {to_seed} times");
}
