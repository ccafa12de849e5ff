//! Cluster isolation, key rotation, rolling enablement and a hostile node,
//! in the simulator: clusters that do not share a label or a key never
//! merge; a 50-node cluster under 3 % loss rotates its key, and switches
//! encryption on node by node, with no false down and every update
//! converging; a node without the key, forging and replaying packets for 10
//! simulated minutes, changes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use kite_proto::wire::envelope::Nonces;
use kite_proto::wire::{self, Delta, Message, NodeDelta, Update, UpdateKind, envelope};
use kite_proto::{Config, Event, Key, Node, NodeStatus, Output, Security, SecurityMode};
use kite_sim::{Failure, HostId, LinkModel, NetworkModel, Sim};

fn key(byte: u8) -> Key {
    Key::from_bytes([byte; 32])
}

fn fast(c: &mut Config) {
    c.gossip_interval = Duration::from_millis(100);
}

fn secured(label: &str, keys: Vec<Key>, mode: SecurityMode) -> impl Fn(&mut Config) {
    let label = label.to_owned();
    move |c: &mut Config| {
        fast(c);
        c.security = Security {
            label: label.clone(),
            keys: keys.clone(),
            mode,
        };
    }
}

/// `n` nodes configured by `config`, joined through the first one.
fn cluster(sim: &mut Sim, n: usize, config: &dyn Fn(&mut Config)) -> Vec<HostId> {
    let hosts: Vec<HostId> = (0..n).map(|_| sim.add_node_with(config)).collect();
    let seed = hosts[0].addr().to_string();
    for h in &hosts[1..] {
        sim.join(*h, &[seed.as_str()]).unwrap();
    }
    hosts
}

fn lossy(seed: u64) -> Sim {
    let link = LinkModel::lan().loss(0.03);
    Sim::builder(seed)
        .network(NetworkModel::default().link(link))
        .build()
}

fn downs(sim: &Sim) -> Vec<String> {
    sim.events()
        .iter()
        .filter(|e| matches!(e.event, Event::NodeDown { .. }))
        .map(|e| format!("{} at {:?}: {:?}", e.node, e.at, e.event))
        .collect()
}

/// Every host's view: id -> live keys, for every node it sees alive.
fn views(sim: &Sim, hosts: &[HostId]) -> Vec<BTreeMap<String, BTreeMap<String, String>>> {
    hosts
        .iter()
        .map(|h| {
            sim.node(*h)
                .unwrap()
                .nodes()
                .into_iter()
                .filter(|v| v.status == NodeStatus::Alive)
                .map(|v| (v.id.to_string(), v.entries))
                .collect()
        })
        .collect()
}

#[test]
fn clusters_of_another_label_or_key_sharing_seeds_never_merge() -> Result<(), Failure> {
    for (other, what) in [
        (
            secured("blue", Vec::new(), SecurityMode::Plaintext),
            "another label",
        ),
        (
            secured("red", vec![key(2)], SecurityMode::Encrypted),
            "another key",
        ),
    ] {
        let mut sim = Sim::new(5);
        let red = secured("red", vec![key(1)], SecurityMode::Encrypted);
        let a = cluster(&mut sim, 3, &red);
        let b: Vec<HostId> = (0..3).map(|_| sim.add_node_with(&other)).collect();
        // The second cluster joins through the first one's seed, and its own.
        let seeds = [a[0].addr().to_string(), b[0].addr().to_string()];
        for h in &b {
            let _ = sim.join(*h, &seeds);
        }
        sim.run_for(Duration::from_secs(60))?;
        for h in &a {
            let known = sim.node(*h).unwrap().nodes().len();
            assert_eq!(
                known, 3,
                "{what}: a node of the first cluster knows {known}"
            );
        }
        // The seed the second cluster tried refused it, and counted.
        let rejected = sim.node(a[0]).unwrap().stats().rejected.total();
        assert!(rejected > 0, "{what}: nothing rejected at the seed");
        for h in &b {
            let known = sim.node(*h).unwrap().nodes();
            assert!(
                known.len() <= 3,
                "{what}: a node of the second cluster knows {}",
                known.len()
            );
        }
    }
    Ok(())
}

/// Runs `step` on every host in a seed-shuffled order, some simulated time
/// apart, so that nodes take each step at different times.
fn node_by_node(sim: &mut Sim, hosts: &[HostId], step: &dyn Fn(&mut Node)) -> Result<(), Failure> {
    let mut order: Vec<HostId> = hosts.to_vec();
    let n = order.len();
    for i in 0..n {
        order.swap(i, (i * 7 + 3) % n);
    }
    for h in order {
        sim.with_node(h, |node, _| step(node));
        sim.run_for(Duration::from_millis(150))?;
    }
    Ok(())
}

fn write_everywhere(sim: &mut Sim, hosts: &[HostId], round: usize) {
    for (i, h) in hosts.iter().enumerate().filter(|(i, _)| i % 5 == round % 5) {
        sim.upsert(*h, "round", &format!("{round}-{i}")).unwrap();
    }
}

#[test]
fn a_lossy_cluster_rotates_its_key_without_a_false_down_or_a_lost_update() -> Result<(), Failure> {
    let mut sim = lossy(11);
    let hosts = cluster(
        &mut sim,
        50,
        &secured("prod", vec![key(1)], SecurityMode::Encrypted),
    );
    sim.run_for(Duration::from_secs(30))?;
    sim.await_convergence(Duration::from_secs(60))?;
    write_everywhere(&mut sim, &hosts, 0);
    node_by_node(&mut sim, &hosts, &|node: &mut Node| {
        node.install_key(key(2))
    })?;
    write_everywhere(&mut sim, &hosts, 1);
    node_by_node(&mut sim, &hosts, &|node: &mut Node| {
        node.use_key(&key(2)).unwrap()
    })?;
    write_everywhere(&mut sim, &hosts, 2);
    node_by_node(&mut sim, &hosts, &|node: &mut Node| {
        node.remove_key(&key(1)).unwrap()
    })?;
    write_everywhere(&mut sim, &hosts, 3);
    sim.await_convergence(Duration::from_secs(60))?;
    assert_eq!(downs(&sim), Vec::<String>::new());
    for h in &hosts {
        assert_eq!(sim.node(*h).unwrap().keys(), vec![key(2).hint()], "{h}");
    }
    let views = views(&sim, &hosts);
    assert!(views.iter().all(|v| *v == views[0]));
    Ok(())
}

#[test]
fn a_lossy_cluster_switches_encryption_on_node_by_node() -> Result<(), Failure> {
    let mut sim = lossy(12);
    let hosts = cluster(
        &mut sim,
        50,
        &secured("", Vec::new(), SecurityMode::Plaintext),
    );
    sim.run_for(Duration::from_secs(30))?;
    sim.await_convergence(Duration::from_secs(60))?;
    node_by_node(&mut sim, &hosts, &|node: &mut Node| {
        node.install_key(key(3))
    })?;
    write_everywhere(&mut sim, &hosts, 0);
    node_by_node(&mut sim, &hosts, &|node: &mut Node| {
        node.set_security_mode(SecurityMode::Rolling).unwrap()
    })?;
    write_everywhere(&mut sim, &hosts, 1);
    node_by_node(&mut sim, &hosts, &|node: &mut Node| {
        node.set_security_mode(SecurityMode::Encrypted).unwrap()
    })?;
    write_everywhere(&mut sim, &hosts, 2);
    sim.await_convergence(Duration::from_secs(60))?;
    sim.run_for(Duration::from_secs(10))?;
    assert_eq!(downs(&sim), Vec::<String>::new());
    let plaintext: u64 = hosts
        .iter()
        .map(|h| sim.node(*h).unwrap().stats().rejected.plaintext)
        .sum();
    assert_eq!(plaintext, 0, "plaintext still sent after every node sealed");
    Ok(())
}

#[test]
fn a_hostile_node_without_the_key_changes_nothing_in_ten_minutes() -> Result<(), Failure> {
    let mut sim = Sim::new(13);
    sim.record_outputs();
    let hosts = cluster(
        &mut sim,
        5,
        &secured("prod", vec![key(4)], SecurityMode::Encrypted),
    );
    for (i, h) in hosts.iter().enumerate() {
        sim.upsert(*h, "k", &i.to_string()).unwrap();
    }
    sim.await_convergence(Duration::from_secs(60))?;
    sim.run_for(Duration::from_secs(5))?;
    let before = views(&sim, &hosts);
    let events_before = sim.events().len();
    // Everything the cluster sent so far, to replay.
    let captured: Vec<Vec<u8>> = sim
        .outputs()
        .iter()
        .filter_map(|o| match &o.output {
            Output::Transmit { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect();
    // A node of the same label but another key, and forged plaintext.
    let outsider = secured("prod", vec![key(5)], SecurityMode::Encrypted);
    let intruder = sim.add_node_with(&outsider);
    sim.join(intruder, &[hosts[0].addr().to_string()]).unwrap();
    let stranger: std::net::SocketAddr = "127.0.0.99:7000".parse().unwrap();
    // Well-formed lies, in the cluster's label: in plaintext, and sealed
    // under the intruder's key. Either would change every view if taken.
    let victim = sim.id(hosts[1]).unwrap();
    let lie = wire::encode(&Message::Delta {
        from: victim.clone(),
        delta: Delta {
            nodes: vec![NodeDelta {
                id: victim.clone(),
                generation: sim.node(hosts[1]).unwrap().local_node().generation,
                addr: hosts[1].addr(),
                heartbeat: 1 << 40,
                from_version: 0,
                updates: vec![Update {
                    version: 1 << 20,
                    kind: UpdateKind::Left,
                }],
            }],
        },
    });
    let as_plaintext = Security {
        label: "prod".into(),
        keys: Vec::new(),
        mode: SecurityMode::Plaintext,
    };
    let as_intruder = Security {
        label: "prod".into(),
        keys: vec![key(5)],
        mode: SecurityMode::Encrypted,
    };
    let mut rng = kite_proto::SeededRng::from_seed_u64(9);
    let lies = [
        envelope::seal(&as_plaintext, lie.clone(), &mut Nonces::default(), &mut rng),
        envelope::seal(&as_intruder, lie, &mut Nonces::default(), &mut rng),
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for step in 0..6_000u64 {
        // Every 100 ms for 10 minutes: a replayed packet (perhaps with a
        // flipped bit) and a forged one, to a random member.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let to = hosts[(x % hosts.len() as u64) as usize];
        let mut replay = captured[(x as usize / 7) % captured.len()].clone();
        if step % 2 == 1 {
            let bit = (x as usize / 13) % (replay.len() * 8);
            replay[bit / 8] ^= 1 << (bit % 8);
        }
        let forged: Vec<u8> = (0..64).map(|i| (x >> (i % 8 * 8)) as u8).collect();
        sim.with_node(to, |node, now| {
            node.handle_datagram(now, stranger, &replay);
            node.handle_datagram(now, stranger, &forged);
            for lie in &lies {
                node.handle_datagram(now, stranger, lie);
            }
        });
        sim.run_for(Duration::from_millis(100))?;
    }
    assert_eq!(views(&sim, &hosts), before, "the cluster's views changed");
    let new_events: Vec<String> = sim.events()[events_before..]
        .iter()
        .filter(|e| hosts.contains(&e.host))
        .map(|e| format!("{:?}", e.event))
        .collect();
    assert!(
        new_events.iter().all(|e| e.starts_with("JoinTarget")),
        "events after the attack began: {new_events:?}"
    );
    for h in &hosts {
        let stats = sim.node(*h).unwrap().stats();
        assert!(stats.rejected.total() > 0, "{h} rejected nothing");
    }
    Ok(())
}
