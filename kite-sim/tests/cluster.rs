//! The helpers an application test starts from: forming a cluster, and
//! waiting until every node sees a status, a key, an event, or everyone;
//! each wait fails with a [`Failure`] naming who does not, after a bound in
//! simulated time.

use core::time::Duration;

use kite_sim::{Event, Failure, NodeStatus, Sim, for_each_seed};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn form_cluster_joins_every_node_through_the_first_and_waits_until_all_see_all() {
    for_each_seed(0..5, |seed| {
        let mut sim = Sim::new(seed);
        let hosts = sim.form_cluster(12, secs(60))?;
        sim.ensure(hosts.len() == 12 && sim.formed(), || {
            format!("{} hosts, formed: {}", hosts.len(), sim.formed())
        })?;
        for host in &hosts {
            let alive = sim.node(*host).unwrap().peer_count(NodeStatus::Alive);
            sim.ensure(alive == 11, || format!("{host} sees {alive} peers alive"))?;
        }
        let via_first = format!("joins via {}", sim.addr(hosts[0]));
        let joins = sim
            .actions()
            .iter()
            .filter(|a| a.contains(&via_first))
            .count();
        sim.ensure(joins == 11, || format!("{joins} joins through the first"))
    });
}

#[test]
fn add_cluster_only_starts_the_joins() {
    let mut sim = Sim::new(1);
    let hosts = sim.add_cluster(5);
    assert_eq!(hosts.len(), 5);
    assert!(!sim.formed());
    assert_eq!(sim.now().as_micros(), 0);
    let took = sim.await_formed(secs(30)).unwrap();
    assert!(took > Duration::ZERO && sim.formed());
}

#[test]
fn form_cluster_waits_only_for_its_own_nodes() {
    let mut sim = Sim::new(2);
    let first = sim.form_cluster(3, secs(30)).unwrap();
    let second = sim.form_cluster(3, secs(30)).unwrap();
    // Two clusters side by side: neither knows the other.
    assert!(!sim.formed());
    let lonely = sim.id(second[0]).unwrap();
    assert!(sim.node(first[0]).unwrap().node(&lonely).is_none());
}

#[test]
fn await_status_and_await_key_follow_a_crash_a_leave_and_writes() -> Result<(), Failure> {
    let mut sim = Sim::new(3);
    let hosts = sim.form_cluster(6, secs(30))?;
    let writer = sim.id(hosts[1]).unwrap();
    sim.upsert(hosts[1], "k", "v1").unwrap();
    sim.await_key(&writer, "k", Some("v1"), secs(30))?;
    sim.delete(hosts[1], "k").unwrap();
    sim.await_key(&writer, "k", None, secs(30))?;
    for host in &hosts[2..] {
        let view = sim.node(*host).unwrap().node(&writer).unwrap();
        assert!(!view.entries.contains_key("k"), "{host}: {view:?}");
    }

    let crashed = sim.id(hosts[2]).unwrap();
    sim.crash(hosts[2]);
    let took = sim.await_status(&crashed, NodeStatus::Down, secs(60))?;
    assert!(took > Duration::ZERO);
    let leaver = sim.id(hosts[3]).unwrap();
    sim.leave(hosts[3]).unwrap();
    sim.await_status(&leaver, NodeStatus::Left, secs(30))?;
    for host in sim.live_hosts() {
        let node = sim.node(host).unwrap();
        assert_eq!(node.node(&crashed).unwrap().status, NodeStatus::Down);
        assert_eq!(node.node(&leaver).unwrap().status, NodeStatus::Left);
    }
    Ok(())
}

#[test]
fn a_wait_that_times_out_fails_naming_who_does_not_see_it() {
    let mut sim = Sim::new(4);
    let hosts = sim.form_cluster(4, secs(30)).unwrap();
    let id = sim.id(hosts[0]).unwrap();
    let start = sim.now();

    let failure = sim
        .await_status(&id, NodeStatus::Down, secs(5))
        .expect_err("nobody crashed");
    assert_eq!(sim.now().saturating_since(start), secs(5));
    assert!(failure.reason.contains("within 5s"), "{failure}");
    assert!(failure.reason.contains("h1 ("), "{failure}");
    assert!(failure.reason.contains("sees it Alive"), "{failure}");
    assert!(!failure.reason.contains("h0 ("), "{failure}");

    let failure = sim
        .await_key(&id, "never", Some("set"), secs(1))
        .expect_err("never written");
    assert!(
        failure.reason.contains("h3 (") && failure.reason.contains("holds no never"),
        "{failure}"
    );

    let everyone = sim.live_hosts();
    let failure = sim
        .await_all_saw(&everyone, |e| matches!(e, Event::NodeLeft { .. }), secs(1))
        .expect_err("nobody left");
    assert!(failure.reason.contains("h2 ("), "{failure}");

    let _alone = sim.add_node();
    let failure = sim
        .await_formed(secs(2))
        .expect_err("the new node never joins");
    assert!(failure.reason.contains("h4 ("), "{failure}");
    assert_eq!(failure.seed, 4);
}

#[test]
fn await_all_saw_waits_for_the_events_of_each_observers_current_node() -> Result<(), Failure> {
    let mut sim = Sim::new(5);
    let hosts = sim.form_cluster(5, secs(30))?;
    let leaver = sim.id(hosts[4]).unwrap();
    sim.leave(hosts[4]).unwrap();
    let left = |e: &Event| *e == Event::NodeLeft { id: leaver.clone() };
    sim.await_all_saw(&hosts[..4], left, secs(30))?;
    assert!(sim.all_saw(&hosts[..4], left));
    // A restarted node is a new process, which has seen nothing yet.
    sim.restart(hosts[0]);
    assert!(!sim.all_saw(&hosts[..4], left));
    Ok(())
}
