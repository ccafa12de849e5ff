//! Random faults and commands over many seeds, with every invariant
//! checked, then convergence once the faults stop.

use core::time::Duration;

use kite_proto::SeededRng;
use kite_sim::{HostId, LinkModel, NetworkModel, Sim, for_each_seed, hunt_seeds, shrink};
use rand_core::RngCore;

fn pick(rng: &mut SeededRng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// One random command or fault (hosts by index), then a wait.
#[derive(Clone, Debug)]
enum Step {
    Upsert(usize, String, String),
    Delete(usize, String),
    Crash(usize),
    Restart(usize),
    Pause(usize, Duration),
    /// Hosts below the index on one side.
    Partition(usize),
    OneWay(usize, usize),
    Heal,
    Leave(usize),
    /// The DNS name answers with the first hosts, this many.
    Dns(usize),
    Nothing,
}

/// `steps` random steps for `n` nodes, each with the wait after it.
fn plan(seed: u64, n: usize, steps: usize) -> Vec<(Step, Duration)> {
    let mut rng = SeededRng::from_seed_u64(seed ^ 0xc4a05);
    (0..steps)
        .map(|_| {
            let h = pick(&mut rng, n);
            let step = match pick(&mut rng, 20) {
                0..=6 => Step::Upsert(
                    h,
                    format!("k{}", pick(&mut rng, 12)),
                    format!("v{}", rng.next_u32() % 1000),
                ),
                7..=9 => Step::Delete(h, format!("k{}", pick(&mut rng, 12))),
                10 => Step::Crash(h),
                11 => Step::Restart(h),
                12 => Step::Pause(h, Duration::from_millis(500 + rng.next_u64() % 20_000)),
                13 => Step::Partition(1 + pick(&mut rng, n - 1)),
                14 => Step::OneWay(pick(&mut rng, n), pick(&mut rng, n)),
                15 | 16 => Step::Heal,
                17 => Step::Leave(h),
                18 => Step::Dns(1 + pick(&mut rng, n)),
                _ => Step::Nothing,
            };
            (step, Duration::from_millis(rng.next_u64() % 3_000))
        })
        .collect()
}

/// Plays `steps` on `n` nodes under lossy, jittery, duplicating and
/// reordering links (skipping steps that no longer apply), then stops the
/// faults and requires convergence.
fn play(seed: u64, n: usize, steps: &[(Step, Duration)]) -> Result<(), kite_sim::Failure> {
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
    let mut cuts = Vec::new();
    let mut left = 0;
    for (step, wait) in steps {
        let running = |sim: &Sim, h: usize| sim.node(hosts[h]).is_some_and(|node| !node.has_left());
        match step {
            Step::Upsert(h, key, value) if running(&sim, *h) => {
                sim.upsert(hosts[*h], key, value).unwrap();
            }
            Step::Delete(h, key) if running(&sim, *h) => sim.delete(hosts[*h], key).unwrap(),
            Step::Crash(h) => sim.crash(hosts[*h]),
            Step::Restart(h) => {
                sim.restart(hosts[*h]);
            }
            Step::Pause(h, pause) if running(&sim, *h) => sim.pause(hosts[*h], *pause),
            Step::Partition(split) => {
                let (a, b) = hosts.split_at(*split);
                cuts.push(sim.partition(a, b));
            }
            Step::OneWay(a, b) => cuts.push(sim.partition_one_way(&[hosts[*a]], &[hosts[*b]])),
            Step::Heal => {
                if let Some(cut) = cuts.pop() {
                    sim.heal(cut);
                }
            }
            Step::Leave(h) if running(&sim, *h) && left < 2 => {
                left += 1;
                sim.leave(hosts[*h]).unwrap();
            }
            Step::Dns(k) => {
                let named: Vec<HostId> = hosts[..*k].to_vec();
                sim.set_dns("kite", &named);
            }
            _ => {}
        }
        sim.run_for(*wait)?;
    }
    // Faults stop: heal, perfect links, every crashed host back, left ones
    // gone, and the name lists every host, as an operator's DNS lists the
    // live instances.
    sim.heal_all();
    sim.network_mut().default_link = LinkModel::lan();
    sim.set_dns("kite", &hosts);
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

/// `steps` random steps on `n` nodes; a failure is shrunk to fewer steps.
fn chaos(seed: u64, n: usize, steps: usize) -> Result<(), kite_sim::Failure> {
    shrink(&plan(seed, n, steps), |steps| play(seed, n, steps))
}

#[test]
fn random_faults_keep_every_invariant_and_converge_once_they_stop() {
    for_each_seed(0..20, |seed| chaos(seed, 12, 120));
}

/// Seeds of the 1000..11000 hunt that once failed (12 nodes, 200 steps),
/// kept as regressions:
/// - a node re-reported a node it knew had left as joined (a left node
///   introduced by a truncated prefix without its left marker, and a
///   forgotten left id dropped while stale views of it still circulated):
///   1270, 2048, 3055, 6111, 9322, 9867, 9966, 10937.
#[test]
fn seeds_that_once_failed() {
    const SEEDS: [u64; 8] = [1270, 2048, 3055, 6111, 9322, 9867, 9966, 10937];
    for seed in SEEDS {
        if let Err(failure) = chaos(seed, 12, 200) {
            panic!("seed {seed} failed again\n{failure}");
        }
    }
}

/// More and longer runs, to hunt for bugs after a protocol change, on every
/// core, reporting every failing seed:
///
/// ```text
/// KITE_SIM_SEEDS=1000..11000 cargo test -p kite-sim --release --test chaos -- --ignored hunt
/// ```
///
/// (`KITE_SIM_SEEDS` defaults to 100..400; `N` sets the cluster size,
/// default 12; `KITE_SIM_SEED=S` replays one seed.)
#[test]
#[ignore]
fn hunt() {
    let n: usize = std::env::var("N").map_or(12, |s| s.parse().expect("N is a number"));
    hunt_seeds(100..400, |seed| chaos(seed, n, 200));
}
