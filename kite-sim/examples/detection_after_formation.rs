//! How long a crash takes to be seen down by every other node when it
//! happens soon after the cluster formed, against the steady state, at the
//! default configuration on the default network (1 ms ± 1 ms, no loss).
//!
//! For each cluster size and each delay, over many seeds: forms a cluster
//! with [`Sim::form_cluster`], runs the delay, crashes one node and times
//! until every live node has emitted `NodeDown` for it. Prints one row per
//! (size, delay), in gossip rounds: the median formation time; the
//! minimum, median and maximum detection time; how many runs took over 10
//! rounds (the monitors' target), with how long those took; and how many
//! crashed nodes were watched by fewer monitors than a verdict needs, with
//! how many of those runs took over 10 rounds.
//!
//! A node counts as watching the crashed one if the last direct heartbeat
//! it got from it was flagged `monitor` (a monitor records heartbeats of
//! nodes it does not know yet, too).
//!
//! ```text
//! cargo run -p kite-sim --release --example detection_after_formation -- [sizes] [seeds] [delays]
//! ```
//!
//! Defaults: sizes `10,100`, 20 seeds (0..20), delays `0,1,2,5,10,20,120`
//! rounds (the last is the steady state). Figures: `docs/testing.md`.

use core::net::SocketAddr;
use core::time::Duration;
use std::collections::BTreeMap;

use kite_sim::proto::Output;
use kite_sim::proto::wire::{Message, decode};
use kite_sim::{Event, HostId, InvariantConfig, Sim};

/// Detection slower than this many rounds was not the monitors' doing.
const TARGET: f64 = 10.0;

/// Distinct monitors that must suspect a node for a verdict, in clusters of
/// five nodes or more (kite-proto's `MONITORS - 1`).
const QUORUM: usize = 4;

/// What one run measured, in gossip rounds.
struct Run {
    formed: f64,
    detected: f64,
    watchers: usize,
}

/// A comma-separated list of numbers.
fn list<T: core::str::FromStr>(arg: &str) -> Vec<T> {
    arg.split(',')
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {v:?}"))
        })
        .collect()
}

/// How many nodes watch `victim` now, from its heartbeats so far: those
/// whose last direct heartbeat from it was flagged `monitor`.
fn watchers(sim: &Sim, victim: HostId) -> usize {
    let mut watching: BTreeMap<SocketAddr, bool> = BTreeMap::new();
    for logged in sim.outputs().iter().filter(|o| o.host == victim) {
        let Output::Transmit { to, payload } = &logged.output else {
            continue;
        };
        if let Ok(Message::Liveness { monitor, .. }) = decode(payload) {
            watching.insert(*to, monitor);
        }
    }
    watching.values().filter(|w| **w).count()
}

fn run(n: usize, seed: u64, delay: u32) -> Result<Run, kite_sim::Failure> {
    let mut sim = Sim::builder(seed)
        .invariants(InvariantConfig {
            sweep_every: None,
            events: true,
        })
        .check_every(Duration::from_millis(10))
        .build();
    sim.record_outputs();
    let hosts = sim.form_cluster(n, Duration::from_secs(120))?;
    let formed = sim.rounds(sim.now().as_duration());
    let interval = sim
        .node(hosts[0])
        .map_or(Duration::ZERO, |node| node.config().gossip_interval);
    sim.run_for(interval * delay)?;
    let victim = hosts[1 + (seed as usize * 7) % (n - 1)];
    let id = sim.id(victim).expect("every node runs");
    let watchers = watchers(&sim, victim);
    drop(sim.take_events());
    sim.crash(victim);
    let down = |e: &Event| *e == Event::NodeDown { id: id.clone() };
    let took = sim.await_all_saw(&sim.live_hosts(), down, Duration::from_secs(600))?;
    Ok(Run {
        formed,
        detected: sim.rounds(took),
        watchers,
    })
}

/// `k/total (low to high)` of the slow values, or `0/total`.
fn slow(values: &[f64], total: usize) -> String {
    let slow: Vec<f64> = values.iter().copied().filter(|r| *r > TARGET).collect();
    match (slow.first(), slow.last()) {
        (Some(low), Some(high)) => format!("{}/{total} ({low:.0} to {high:.0})", slow.len()),
        _ => format!("0/{total}"),
    }
}

fn main() -> Result<(), kite_sim::Failure> {
    let mut args = std::env::args().skip(1);
    let sizes: Vec<usize> = args.next().map_or(vec![10, 100], |a| list(&a));
    let seeds: u64 = args
        .next()
        .map_or(20, |a| a.parse().expect("seeds is a number"));
    let delays: Vec<u32> = args
        .next()
        .map_or(vec![0, 1, 2, 5, 10, 20, 120], |a| list(&a));
    println!(
        "| N | crash, rounds after formation | formed after (median) | seen down by all: min | median | max | over {TARGET} rounds | watched by < {QUORUM}: over {TARGET} rounds / all |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for &n in &sizes {
        for &delay in &delays {
            let mut runs = (0..seeds)
                .map(|seed| run(n, seed, delay))
                .collect::<Result<Vec<Run>, _>>()?;
            runs.sort_by(|a, b| a.detected.total_cmp(&b.detected));
            let mut formed: Vec<f64> = runs.iter().map(|r| r.formed).collect();
            formed.sort_by(f64::total_cmp);
            let detected: Vec<f64> = runs.iter().map(|r| r.detected).collect();
            let under: Vec<&Run> = runs.iter().filter(|r| r.watchers < QUORUM).collect();
            let under_slow = under.iter().filter(|r| r.detected > TARGET).count();
            println!(
                "| {n} | {delay} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {under_slow}/{} |",
                formed[formed.len() / 2],
                detected[0],
                detected[detected.len() / 2],
                detected[detected.len() - 1],
                slow(&detected, runs.len()),
                under.len(),
            );
        }
    }
    Ok(())
}
