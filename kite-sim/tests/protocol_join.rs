//! Joining through addresses and names.

mod lossless;

use std::collections::BTreeSet;
use std::time::Duration;

use kite_proto::{Event, JoinError, NodeId, NodeStatus, Output, Timestamp};
use kite_sim::{Failure, HostId, Sim, for_each_seed};
use lossless::{events_of, form, lossless, net, settle};

fn join_results(sim: &Sim, host: HostId) -> Vec<Result<Vec<NodeId>, JoinError>> {
    events_of(sim, host)
        .into_iter()
        .filter_map(|e| match e {
            Event::JoinCompleted { result, .. } => Some(result),
            _ => None,
        })
        .collect()
}

fn id(sim: &Sim, host: HostId) -> NodeId {
    sim.id(host).expect("running")
}

#[test]
fn join_by_address_learns_the_whole_cluster() -> Result<(), Failure> {
    let (mut sim, hosts) = net(4, |_| {});
    sim.upsert(hosts[0], "rpc_addr", "10.0.0.1:9000").unwrap();
    form(&mut sim, &hosts)?;
    let id0 = id(&sim, hosts[0]);
    for h in &hosts[1..] {
        assert_eq!(join_results(&sim, *h), vec![Ok(vec![id0.clone()])]);
    }
    for h in &hosts {
        let view = sim.node(*h).unwrap().nodes();
        assert_eq!(view.len(), 4, "{h} sees {view:?}");
        assert!(view.iter().all(|n| n.status == NodeStatus::Alive));
    }
    assert_eq!(
        sim.node(hosts[3]).unwrap().node(&id0).unwrap().entries["rpc_addr"],
        "10.0.0.1:9000"
    );
    assert!(events_of(&sim, hosts[3]).contains(&Event::KeyUpserted {
        id: id0,
        key: "rpc_addr".into(),
        value: "10.0.0.1:9000".into()
    }));
    Ok(())
}

#[test]
fn join_with_a_bare_ip_uses_the_local_port() -> Result<(), Failure> {
    let (mut sim, hosts) = net(2, |_| {});
    sim.join(hosts[1], &["127.0.0.1"]).unwrap();
    settle(&mut sim)?;
    assert_eq!(
        join_results(&sim, hosts[1]),
        vec![Ok(vec![id(&sim, hosts[0])])]
    );
    Ok(())
}

#[test]
fn join_with_a_bare_host_resolves_it_and_uses_the_local_port() -> Result<(), Failure> {
    let (mut sim, hosts) = net(3, |_| {});
    sim.set_dns("kite.local", &hosts[..2]);
    let ips = vec![sim.addr(hosts[0]).ip(), sim.addr(hosts[1]).ip()];
    // The node's first outputs are inspected, and the answer handed in, by hand.
    let (join, outputs) = sim.with_node(hosts[2], |node, now| {
        let join = node.join(now, &["kite.local"]).unwrap();
        let outputs: Vec<Output> = std::iter::from_fn(|| match node.poll_output() {
            Output::Timeout(_) => None,
            out => Some(out),
        })
        .collect();
        node.handle_resolved(now, "kite.local", Ok(ips));
        (join, outputs)
    });
    assert_eq!(
        outputs,
        vec![Output::Resolve {
            name: "kite.local".into()
        }]
    );
    settle(&mut sim)?;
    // The join completes with the first answer; the other address's
    // answer is reported on its own.
    let mut joined = match &join_results(&sim, hosts[2])[..] {
        [Ok(ids)] if ids.len() == 1 => ids.clone(),
        other => panic!("{other:?} for {join:?}"),
    };
    for (_, target, result) in target_outcomes(&sim, hosts[2]) {
        assert!(target.starts_with("kite.local:7000 (127.0.0."), "{target}");
        joined.push(result.unwrap());
    }
    joined.sort();
    let mut expected = vec![id(&sim, hosts[0]), id(&sim, hosts[1])];
    expected.sort();
    assert_eq!(joined, expected);
    Ok(())
}

#[test]
fn a_name_resolving_only_to_ourselves_is_not_an_error() -> Result<(), Failure> {
    let (mut sim, hosts) = net(1, |_| {});
    sim.set_dns("me.local", &hosts[..1]);
    sim.join(hosts[0], &["me.local:7000"]).unwrap();
    settle(&mut sim)?;
    assert_eq!(join_results(&sim, hosts[0]), vec![Ok(vec![])]);
    Ok(())
}

#[test]
fn join_fails_when_no_target_answers() -> Result<(), Failure> {
    let (mut sim, hosts) = net(2, |_| {});
    sim.crash(hosts[0]);
    sim.join(hosts[1], &["127.0.0.1:7000", "nowhere.local"])
        .unwrap();
    settle(&mut sim)?;
    match &join_results(&sim, hosts[1])[..] {
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
    Ok(())
}

#[test]
fn re_resolution_finds_new_addresses_without_another_join() -> Result<(), Failure> {
    let (mut sim, hosts) = net(4, |c| c.dns_refresh_interval = Duration::from_secs(10));
    sim.set_dns("svc.local", &hosts[..2]);
    sim.join(hosts[3], &["svc.local:7000"]).unwrap();
    // Nodes 0 and 1 know nothing of node 2: only DNS can tell node 3 of it.
    sim.run_for(Duration::from_secs(2))?;
    let id2 = id(&sim, hosts[2]);
    assert!(sim.node(hosts[3]).unwrap().node(&id2).is_none());
    sim.set_dns("svc.local", &hosts[..3]);
    sim.run_for(Duration::from_secs(12))?;
    assert_eq!(
        sim.node(hosts[3]).unwrap().node(&id2).map(|n| n.status),
        Some(NodeStatus::Alive)
    );
    assert_eq!(sim.node(hosts[2]).unwrap().nodes().len(), 4);
    Ok(())
}

#[test]
fn seeds_not_heard_from_are_retried_every_round() -> Result<(), Failure> {
    let (mut sim, hosts) = net(3, |_| {});
    sim.record_outputs();
    sim.crash(hosts[0]);
    sim.join(hosts[2], &["127.0.0.1:7000", "127.0.0.2:7000"])
        .unwrap();
    settle(&mut sim)?;
    assert_eq!(
        join_results(&sim, hosts[2]),
        vec![Ok(vec![id(&sim, hosts[1])])]
    );
    let refused = target_outcomes(&sim, hosts[2]);
    assert!(
        matches!(&refused[..], [(_, target, Err(_))] if target == "127.0.0.1:7000"),
        "{refused:?}"
    );
    sim.run_for(Duration::from_secs(3))?;
    // That seed was down at join time; it comes up later and is found by
    // gossip (the other seed does not know it: it is a new process).
    let id0 = sim.restart(hosts[0]);
    sim.run_for(Duration::from_secs(3))?;
    assert_eq!(
        sim.node(hosts[2]).unwrap().node(&id0).map(|n| n.status),
        Some(NodeStatus::Alive)
    );
    let seed = sim.addr(hosts[0]);
    let to_seed = sim
        .outputs()
        .iter()
        .filter(|o| {
            o.host == hosts[2] && matches!(o.output, Output::Transmit { to, .. } if to == seed)
        })
        .count();
    assert!(to_seed >= 6, "seed contacted {to_seed} times");
    Ok(())
}

/// When `host`'s first join completed, and how.
fn completion(sim: &Sim, host: HostId) -> Option<(Timestamp, Result<Vec<NodeId>, JoinError>)> {
    sim.events().iter().find_map(|e| match &e.event {
        Event::JoinCompleted { result, .. } if e.host == host => Some((e.at, result.clone())),
        _ => None,
    })
}

/// The `JoinTargetCompleted` events of `host`: when, which target, how.
fn target_outcomes(sim: &Sim, host: HostId) -> Vec<(Timestamp, String, Result<NodeId, String>)> {
    sim.events()
        .iter()
        .filter(|e| e.host == host)
        .filter_map(|e| match &e.event {
            Event::JoinTargetCompleted { target, result, .. } => {
                Some((e.at, target.clone(), result.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn join_completes_with_the_first_answer_while_a_silent_target_is_pending() {
    for_each_seed(0..10, |seed| {
        // A LAN (about 1 ms a hop) with the default 10 s stream timeout.
        let mut sim = Sim::new(seed);
        let hosts = sim.add_nodes(3);
        let (silent, answering, joiner) = (hosts[0], hosts[1], hosts[2]);
        sim.partition(&[silent], &[joiner]);
        let started = sim.now();
        let targets = [silent.addr().to_string(), answering.addr().to_string()];
        sim.join(joiner, &targets).unwrap();
        sim.run_until(|sim| completion(sim, joiner).is_some(), secs(30))?;
        let (at, result) = completion(&sim, joiner).unwrap();
        let took = at.saturating_since(started);
        sim.ensure(took < Duration::from_millis(100), || {
            format!("the join took {took:?}, not a round trip")
        })?;
        let expected = Ok(vec![id(&sim, answering)]);
        sim.ensure(result == expected, || format!("{result:?}"))?;
        // The silent target goes on, and its outcome arrives on its own
        // once its stream times out.
        let silent_target = silent.addr().to_string();
        let late = |sim: &Sim| {
            target_outcomes(sim, joiner)
                .into_iter()
                .find(|(_, target, _)| *target == silent_target)
        };
        sim.run_until(|sim| late(sim).is_some(), secs(30))?;
        let (at, _, result) = late(&sim).unwrap();
        sim.ensure(result.is_err(), || format!("{result:?}"))?;
        let after = at.saturating_since(started);
        sim.ensure(after >= secs(10), || format!("timed out after {after:?}"))
    });
}

#[test]
fn a_newcomer_knows_every_node_its_seed_holds_alive_when_join_returns() {
    for_each_seed(0..30, |seed| {
        let mut sim = lossless(seed, |_| {});
        let members = 1 + (seed % 6) as usize;
        let hosts = sim.add_nodes(members);
        let first = hosts[0].addr().to_string();
        for h in &hosts[1..] {
            sim.join(*h, &[&first]).unwrap();
        }
        sim.await_convergence(secs(30))?;
        // A chain of newcomers, each joining through the one before as
        // soon as that one's own join returned (nothing takes time on this
        // network, so no gossip round runs in between).
        let mut through = hosts[seed as usize % members];
        for _ in 0..3 {
            let newcomer = sim.add_node();
            sim.join(newcomer, &[through.addr().to_string()]).unwrap();
            settle(&mut sim)?;
            let result = completion(&sim, newcomer).map(|(_, result)| result);
            let expected = Some(Ok(vec![id(&sim, through)]));
            sim.ensure(result == expected, || format!("{result:?}"))?;
            let view = |host| sim.node(host).unwrap().nodes();
            let known: BTreeSet<NodeId> = view(newcomer).into_iter().map(|n| n.id).collect();
            let missing: Vec<NodeId> = view(through)
                .into_iter()
                .filter(|n| n.status == NodeStatus::Alive && !known.contains(&n.id))
                .map(|n| n.id)
                .collect();
            sim.ensure(missing.is_empty(), || {
                format!("{newcomer} joined through {through} without {missing:?}")
            })?;
            through = newcomer;
        }
        Ok(())
    });
}

#[test]
fn a_failed_join_is_not_retried_later() -> Result<(), Failure> {
    let (mut sim, hosts) = net(2, |c| c.dns_refresh_interval = Duration::from_secs(1));
    sim.record_outputs();
    sim.crash(hosts[0]);
    sim.join(hosts[1], &["127.0.0.1:7000", "svc.local"])
        .unwrap();
    settle(&mut sim)?;
    assert!(matches!(
        &join_results(&sim, hosts[1])[..],
        [Err(JoinError::NoneJoined { .. })]
    ));
    let failed_at = sim.now();
    // Both targets come up later: the node does not reach them by itself.
    sim.restart(hosts[0]);
    sim.set_dns("svc.local", &hosts[..1]);
    sim.run_for(Duration::from_secs(5))?;
    assert_eq!(sim.node(hosts[1]).unwrap().nodes().len(), 1);
    let seed = sim.addr(hosts[0]);
    let later: Vec<&Output> = sim
        .outputs()
        .iter()
        .filter(|o| o.host == hosts[1] && o.at > failed_at)
        .map(|o| &o.output)
        .filter(|o| match o {
            Output::Transmit { to, .. } | Output::Request { to, .. } => *to == seed,
            Output::Resolve { .. } => true,
            _ => false,
        })
        .collect();
    assert!(later.is_empty(), "{later:?}");
    Ok(())
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
