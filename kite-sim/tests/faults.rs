//! Fault scenarios: loss and jitter without false downs, partitions that
//! heal, one-way partitions and long pauses.

mod common;

use core::time::Duration;

use common::*;
use kite_sim::{Event, InvariantConfig, LinkModel, NetworkModel, Sim, for_each_seed};

#[test]
fn no_false_downs_for_50_nodes_over_10_minutes_at_5_percent_loss_and_50ms_jitter() {
    for_each_seed(0..5, |seed| {
        let link = LinkModel::lan()
            .latency(Duration::ZERO)
            .jitter(Duration::from_millis(50))
            .loss(0.05);
        let mut sim = Sim::builder(seed)
            .network(NetworkModel::default().link(link))
            .invariants(InvariantConfig {
                sweep_every: Some(secs(10)),
                ..Default::default()
            })
            .build();
        let hosts = sim.form_cluster(50, secs(60))?;
        for h in &hosts {
            sim.upsert(*h, "load", "0").unwrap();
        }
        for (minute, host) in hosts.iter().enumerate().skip(1).take(10) {
            sim.run_for(secs(60))?;
            sim.upsert(*host, "load", &minute.to_string()).unwrap();
        }
        let downs = count(&sim, |e| matches!(e, Event::NodeDown { .. }));
        sim.ensure(downs == 0, || format!("{downs} false downs"))?;
        sim.await_convergence(secs(30)).map(drop)
    });
}

#[test]
fn a_two_minute_half_half_partition_heals_and_converges() {
    for_each_seed(0..8, |seed| {
        let mut sim = Sim::builder(seed)
            .network(NetworkModel::default().link(LinkModel::lan().loss(0.01)))
            .build();
        let hosts = sim.form_cluster(20, secs(60))?;
        sim.run_for(secs(10))?;
        let (a, b) = hosts.split_at(10);
        let cut = sim.partition(a, b);
        for h in a.iter().chain(b).step_by(3) {
            sim.upsert(*h, "during", "partition").unwrap();
        }
        sim.run_for(secs(120))?;
        // Each side sees the other down.
        let far = sim.id(b[0]).unwrap();
        sim.ensure(sim.all_saw(a, is_down(&far)), || {
            "side A did not see side B down".into()
        })?;
        sim.heal(cut);
        let took = sim.await_convergence(secs(60))?;
        sim.ensure(sim.rounds(took) <= 60.0, || {
            format!("took {took:?} to converge after healing")
        })?;
        let ups = count(&sim, |e| matches!(e, Event::NodeUp { .. }));
        sim.ensure(ups >= 2 * 10 * 10, || format!("only {ups} up events"))
    });
}

#[test]
fn a_one_way_partition_heals_and_converges() {
    for_each_seed(0..8, |seed| {
        let mut sim = Sim::new(seed);
        let hosts = sim.form_cluster(10, secs(60))?;
        let cut = sim.partition_one_way(&hosts[..3], &hosts[3..]);
        sim.upsert(hosts[0], "k", "1").unwrap();
        sim.upsert(hosts[5], "k", "2").unwrap();
        sim.run_for(secs(60))?;
        sim.heal(cut);
        sim.await_convergence(secs(60)).map(drop)
    });
}

#[test]
fn a_long_pause_does_not_make_the_paused_node_convict_its_peers() {
    for_each_seed(0..8, |seed| {
        let mut sim = Sim::new(seed);
        let hosts = sim.form_cluster(10, secs(60))?;
        sim.run_for(secs(30))?;
        let sleeper = hosts[4];
        let me = sim.id(sleeper).unwrap();
        sim.pause(sleeper, secs(60));
        sim.run_for(secs(61))?;
        sim.run_for(secs(5))?;
        let convicted = sim
            .events()
            .iter()
            .filter(|e| e.node == me && matches!(e.event, Event::NodeDown { .. }))
            .count();
        sim.ensure(convicted == 0, || {
            format!("the paused node reported {convicted} peers down")
        })?;
        sim.await_convergence(secs(30)).map(drop)
    });
}

#[test]
fn drifting_clocks_cause_no_false_downs_and_crashes_are_still_seen() {
    for_each_seed(0..5, |seed| {
        let mut sim = Sim::builder(seed)
            .network(NetworkModel::default().link(LinkModel::lan().loss(0.02)))
            .clock_drift(0.02)
            .build();
        let hosts = sim.form_cluster(20, secs(60))?;
        // Each node reads its own clock: deadlines are far from true time.
        let offset = |h: &kite_sim::HostId| {
            let deadline = sim.node(*h).unwrap().next_timeout();
            deadline.saturating_since(sim.now()) > secs(60)
        };
        sim.ensure(hosts.iter().filter(|h| offset(h)).count() > 10, || {
            "host clocks are not offset".into()
        })?;
        sim.upsert(hosts[3], "k", "v").unwrap();
        sim.run_for(secs(180))?;
        let downs = count(&sim, |e| matches!(e, Event::NodeDown { .. }));
        sim.ensure(downs == 0, || format!("{downs} false downs"))?;
        sim.await_convergence(secs(30))?;
        let gone = sim.id(hosts[7]).unwrap();
        sim.crash(hosts[7]);
        let others: Vec<_> = hosts.iter().copied().filter(|h| *h != hosts[7]).collect();
        sim.await_all_saw(&others, is_down(&gone), secs(120))
            .map(drop)
    });
}
