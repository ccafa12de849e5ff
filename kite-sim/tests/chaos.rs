//! Random faults and commands over many seeds, with every invariant
//! checked, then convergence once the faults stop.

use core::time::Duration;

use kite_proto::SeededRng;
use kite_sim::{HostId, LinkModel, NetworkModel, Sim, for_each_seed};
use rand_core::RngCore;

fn pick(rng: &mut SeededRng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// `steps` random commands and faults on `n` nodes, then healing.
fn chaos(seed: u64, n: usize, steps: usize) -> Result<(), kite_sim::Failure> {
    let link = LinkModel::lan()
        .jitter(Duration::from_millis(40))
        .loss(0.05)
        .duplicate(0.03)
        .reorder(0.05, Duration::from_millis(300));
    let mut sim = Sim::builder(seed)
        .network(NetworkModel::default().link(link))
        .node_config(|c| {
            c.compact_threshold = 8;
            c.node_expiry = Duration::from_secs(40);
            c.dns_refresh_interval = Duration::from_secs(10);
        })
        .build();
    let hosts = sim.add_nodes(n);
    sim.set_dns("kite", &hosts[..3]);
    for h in &hosts {
        sim.join(*h, &["kite"]).unwrap();
    }
    let mut rng = SeededRng::from_seed_u64(seed ^ 0xc4a05);
    let mut cuts = Vec::new();
    let mut left = 0;
    for _ in 0..steps {
        let h = hosts[pick(&mut rng, n)];
        let running = sim.node(h).is_some_and(|node| !node.has_left());
        match pick(&mut rng, 20) {
            0..=6 if running => {
                let key = format!("k{}", pick(&mut rng, 12));
                let value = format!("v{}", rng.next_u32() % 1000);
                sim.upsert(h, &key, &value).unwrap();
            }
            7..=9 if running => {
                let key = format!("k{}", pick(&mut rng, 12));
                sim.delete(h, &key).unwrap();
            }
            10 => sim.crash(h),
            11 => {
                sim.restart(h);
            }
            12 if running => sim.pause(h, Duration::from_millis(500 + rng.next_u64() % 20_000)),
            13 => {
                let split = 1 + pick(&mut rng, n - 1);
                let (a, b) = hosts.split_at(split);
                cuts.push(sim.partition(a, b));
            }
            14 => {
                let (a, b) = (hosts[pick(&mut rng, n)], hosts[pick(&mut rng, n)]);
                cuts.push(sim.partition_one_way(&[a], &[b]));
            }
            15 | 16 => {
                if let Some(cut) = cuts.pop() {
                    sim.heal(cut);
                }
            }
            17 if running && left < 2 => {
                left += 1;
                sim.leave(h).unwrap();
            }
            18 => {
                let k = 1 + pick(&mut rng, n);
                let named: Vec<HostId> = hosts[..k].to_vec();
                sim.set_dns("kite", &named);
            }
            _ => {}
        }
        sim.run_for(Duration::from_millis(rng.next_u64() % 3_000))?;
    }
    // Faults stop: heal, perfect links, every crashed host back, left ones gone.
    sim.heal_all();
    sim.network_mut().default_link = LinkModel::lan();
    for h in &hosts {
        match sim.node(*h) {
            None => {
                sim.restart(*h);
            }
            Some(node) if node.has_left() => sim.crash(*h),
            Some(_) => {}
        }
    }
    sim.await_convergence(Duration::from_secs(90)).map(drop)
}

#[test]
fn random_faults_keep_every_invariant_and_converge_once_they_stop() {
    for_each_seed(0..20, |seed| chaos(seed, 12, 120));
}

/// More and longer runs, to hunt for bugs after a protocol change:
/// `cargo test -p kite-sim --release --test chaos -- --ignored` (`N` sets
/// the cluster size).
#[test]
#[ignore]
fn hunt() {
    let n: usize = std::env::var("N").map_or(12, |s| s.parse().expect("N is a number"));
    for_each_seed(100..400, |seed| chaos(seed, n, 200));
}
