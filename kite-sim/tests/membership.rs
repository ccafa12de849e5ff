//! Membership scenarios: formation, graceful leave, crash detection,
//! restart with a new id, expiry, and discovery through DNS.

mod common;

use std::time::Duration;

use common::*;
use kite_sim::{Event, LinkModel, NetworkModel, NodeId, NodeStatus, Sim, for_each_seed};

#[test]
fn formation_from_one_seed_node() {
    for_each_seed(0..10, |seed| {
        let mut sim = Sim::new(seed);
        let hosts = sim.add_cluster(20);
        let took = sim.await_convergence(secs(60))?;
        sim.ensure(sim.rounds(took) < 40.0, || {
            format!("formation took {took:?}")
        })?;
        let seed_id = sim.id(hosts[0]).unwrap();
        let ok = sim
            .events()
            .iter()
            .filter(|e| matches!(&e.event, Event::JoinCompleted { result: Ok(ids), .. } if *ids == [seed_id.clone()]))
            .count();
        sim.ensure(ok == 19, || format!("{ok} successful joins out of 19"))
    });
}

#[test]
fn graceful_leave_is_reported_as_left_never_down() {
    for_each_seed(0..10, |seed| {
        let mut sim = Sim::builder(seed)
            .network(NetworkModel::default().link(LinkModel::lan().loss(0.02)))
            .build();
        let hosts = sim.form_cluster(12, secs(60))?;
        sim.run_for(secs(10))?;
        let leaving = hosts[5];
        let id = sim.id(leaving).unwrap();
        sim.leave(leaving).expect("first leave");
        let others: Vec<_> = hosts.iter().copied().filter(|h| *h != leaving).collect();
        let left = |e: &Event| matches!(e, Event::NodeLeft { id: x } if *x == id);
        sim.await_all_saw(&others, left, secs(30))?;
        let acked = sim.events().iter().any(|e| {
            e.host == leaving
                && matches!(e.event, Event::LeaveCompleted { result: Ok(n) } if n >= 1)
        });
        sim.ensure(acked, || "leave was not acknowledged".into())?;
        // The process exits; the others must keep it as left, not down.
        sim.run_for(secs(5))?;
        sim.crash(leaving);
        sim.run_for(secs(120))?;
        sim.ensure(count(&sim, is_down(&id)) == 0, || {
            format!("{id} reported down after leaving")
        })?;
        for h in &others {
            let status = sim.node(*h).unwrap().node(&id).map(|v| v.status);
            sim.ensure(status == Some(NodeStatus::Left), || {
                format!("{h} sees {id} as {status:?}")
            })?;
        }
        sim.await_convergence(secs(30)).map(drop)
    });
}

#[test]
fn a_crash_is_seen_as_down_by_every_node() {
    for_each_seed(0..8, |seed| {
        let mut sim = Sim::builder(seed)
            .network(NetworkModel::default().link(LinkModel::lan().loss(0.01)))
            .build();
        let hosts = sim.form_cluster(10, secs(60))?;
        sim.run_for(secs(20))?;
        let victim = hosts[3];
        let id = sim.id(victim).unwrap();
        sim.crash(victim);
        let others: Vec<_> = hosts.iter().copied().filter(|h| *h != victim).collect();
        let took = sim.await_all_saw(&others, is_down(&id), secs(120))?;
        // Monitors hear direct heartbeats every round (500 ms): about four
        // rounds to suspect, then the quorum's rumors (DESIGN target: 10
        // rounds); never before a few heartbeats could have been missed.
        sim.ensure(took > secs(1) && took <= secs(5), || {
            format!("down after {took:?}")
        })?;
        let downs = count(&sim, |e| matches!(e, Event::NodeDown { .. }));
        sim.ensure(downs == others.len(), || {
            format!("{downs} down events, expected {}", others.len())
        })?;
        sim.await_convergence(secs(10)).map(drop)
    });
}

#[test]
fn a_restart_takes_a_new_id_and_the_old_one_goes_down() {
    for_each_seed(0..8, |seed| {
        let mut sim = Sim::new(seed);
        let hosts = sim.form_cluster(8, secs(60))?;
        sim.upsert(hosts[2], "role", "old").unwrap();
        sim.run_for(secs(10))?;
        let old = sim.id(hosts[2]).unwrap();
        sim.crash(hosts[2]);
        sim.run_for(secs(3))?;
        let new = sim.restart(hosts[2]);
        sim.ensure(new != old, || "restart kept the id".into())?;
        sim.upsert(hosts[2], "role", "new").unwrap();
        sim.await_convergence(secs(30))?;
        let others: Vec<_> = hosts.iter().copied().filter(|h| *h != hosts[2]).collect();
        sim.await_all_saw(&others, is_down(&old), secs(120))?;
        for h in &others {
            let node = sim.node(*h).unwrap();
            let new_view = node.node(&new);
            sim.ensure(
                new_view
                    .as_ref()
                    .is_some_and(|v| v.status == NodeStatus::Alive && v.entries["role"] == "new"),
                || format!("{h} sees the new process as {new_view:?}"),
            )?;
            let old_view = node.node(&old).map(|v| v.status);
            sim.ensure(old_view == Some(NodeStatus::Down), || {
                format!("{h} sees the old id as {old_view:?}")
            })?;
        }
        Ok(())
    });
}

#[test]
fn left_and_down_nodes_expire_and_never_come_back() {
    for_each_seed(0..6, |seed| {
        let mut sim = Sim::builder(seed)
            .node_config(|c| c.node_expiry = secs(30))
            .build();
        let hosts = sim.form_cluster(8, secs(60))?;
        sim.run_for(secs(10))?;
        let (leaver, crasher) = (hosts[1], hosts[2]);
        let (left_id, down_id) = (sim.id(leaver).unwrap(), sim.id(crasher).unwrap());
        sim.leave(leaver).unwrap();
        sim.crash(crasher);
        sim.run_for(secs(2))?;
        sim.crash(leaver);
        let others: Vec<_> = hosts[3..].to_vec();
        let expired = |id: &NodeId| {
            let id = id.clone();
            move |e: &Event| matches!(e, Event::NodeExpired { id: x } if *x == id)
        };
        sim.run_until(
            |sim| {
                sim.all_saw(&others, expired(&left_id)) && sim.all_saw(&others, expired(&down_id))
            },
            secs(180),
        )?;
        let joins_before = count(&sim, |e| matches!(e, Event::NodeJoined { .. }));
        // Longer than the forgetting period: stale gossip must not bring them back.
        sim.run_for(secs(90))?;
        let joins_after = count(&sim, |e| matches!(e, Event::NodeJoined { .. }));
        sim.ensure(joins_after == joins_before, || {
            "an expired node was re-discovered".into()
        })?;
        for h in &others {
            let node = sim.node(*h).unwrap();
            sim.ensure(
                node.node(&left_id).is_none() && node.node(&down_id).is_none(),
                || format!("{h} still tracks an expired node"),
            )?;
        }
        sim.await_convergence(secs(10)).map(drop)
    });
}

#[test]
fn dns_answers_growing_from_3_to_5_are_discovered_without_a_new_join() {
    for_each_seed(0..8, |seed| {
        let mut sim = Sim::builder(seed)
            .node_config(|c| c.dns_refresh_interval = secs(30))
            .build();
        let hosts = sim.add_nodes(5);
        sim.set_dns("kite.svc.local", &hosts[..3]);
        for h in &hosts[..3] {
            sim.join(*h, &["kite.svc.local"]).unwrap();
        }
        sim.run_for(secs(5))?;
        // Only the first three are members; the two new pods know nobody.
        for h in &hosts[..3] {
            let n = sim.node(*h).unwrap().nodes().len();
            sim.ensure(n == 3, || {
                format!("{h} knows {n} nodes before the DNS change")
            })?;
        }
        let joined_ok = sim
            .events()
            .iter()
            .filter(|e| matches!(&e.event, Event::JoinCompleted { result: Ok(_), .. }))
            .count();
        sim.ensure(joined_ok == 3, || {
            format!("{joined_ok} joins by name succeeded")
        })?;
        sim.set_dns("kite.svc.local", &hosts);
        let took = sim.await_convergence(secs(90))?;
        sim.ensure(took <= secs(40), || format!("discovery took {took:?}"))?;
        let joins = sim
            .actions()
            .iter()
            .filter(|a| a.contains("joins via"))
            .count();
        sim.ensure(joins == 3, || format!("{joins} join calls"))
    });
}

#[test]
fn joins_through_a_crashed_or_unreachable_node_fail_with_the_stream_error() {
    for_each_seed(0..3, |seed| {
        let mut sim = Sim::new(seed);
        let [a, crashed, cut_off] = [sim.add_node(), sim.add_node(), sim.add_node()];
        sim.crash(crashed);
        sim.partition(&[a], &[cut_off]);
        sim.join(a, &[crashed.addr().to_string()]).unwrap();
        sim.join(a, &[cut_off.addr().to_string()]).unwrap();
        sim.run_for(secs(5))?;
        let reasons = |sim: &Sim| -> Vec<String> {
            sim.events()
                .iter()
                .filter_map(|e| match &e.event {
                    Event::JoinCompleted {
                        result: Err(err), ..
                    } => Some(err.to_string()),
                    _ => None,
                })
                .collect()
        };
        let early = reasons(&sim);
        sim.ensure(early.len() == 1 && early[0].contains("refused"), || {
            format!("after 5 s: {early:?}")
        })?;
        // The stream timeout (10 s by default) ends the other attempt.
        sim.run_for(secs(6))?;
        let all = reasons(&sim);
        sim.ensure(all.len() == 2 && all[1].contains("timed out"), || {
            format!("after 11 s: {all:?}")
        })?;
        sim.ensure(
            sim.metrics().streams_refused == 1 && sim.metrics().streams_timed_out == 1,
            || format!("{:?}", sim.metrics()),
        )
    });
}

#[test]
fn a_stream_times_out_after_the_requesters_configured_stream_timeout() {
    for_each_seed(0..3, |seed| {
        let mut sim = Sim::new(seed);
        let a = sim.add_node_with(|config| config.stream_timeout = secs(3));
        let cut_off = sim.add_node();
        sim.partition(&[a], &[cut_off]);
        sim.join(a, &[cut_off.addr().to_string()]).unwrap();
        let outcomes = |sim: &Sim| {
            sim.events()
                .iter()
                .filter(|e| matches!(e.event, Event::JoinCompleted { .. }))
                .count()
        };
        sim.run_for(Duration::from_millis(2_900))?;
        sim.ensure(outcomes(&sim) == 0, || "ended before 3 s".to_owned())?;
        sim.run_for(Duration::from_millis(200))?;
        sim.ensure(
            outcomes(&sim) == 1 && sim.metrics().streams_timed_out == 1,
            || format!("after 3.1 s: {:?}", sim.metrics()),
        )
    });
}
