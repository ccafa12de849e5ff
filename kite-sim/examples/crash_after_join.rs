//! How long a node that joins a running cluster and crashes soon after is
//! seen down, at the default configuration on the default network (1 ms ±
//! 1 ms, no loss): the crash loop of a process that dies right after start.
//!
//! For each delay, over many seeds: forms a cluster of N with
//! [`Sim::form_cluster`], runs 10 s, adds a node that joins through one
//! member, runs 100 ms (the join's stream exchange completes) plus the
//! delay, crashes it, and runs 200 s. Prints, in gossip rounds after the
//! crash, the minimum, median and maximum over seeds of the time until
//! every node that had learned of the newcomer reported it down (`inf` if
//! one never did), and how many runs took over 10 rounds.
//!
//! ```text
//! cargo run -p kite-sim --release --example crash_after_join -- [N] [seeds] [delays in ms]
//! ```
//!
//! Defaults: N = 30, 20 seeds, delays `0,250,500,1000,2000,5000`. Figures:
//! `docs/testing.md`.

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

use kite_sim::{Event, Sim};

fn main() -> Result<(), kite_sim::Failure> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(30, |a| a.parse().expect("N is a number"));
    let seeds: u64 = args
        .next()
        .map_or(20, |a| a.parse().expect("seeds is a number"));
    let delays: Vec<u64> = args
        .next()
        .map_or(vec![0, 250, 500, 1000, 2000, 5000], |a| {
            a.split(',')
                .map(|d| d.trim().parse().expect("a delay is a number of ms"))
                .collect()
        });
    println!(
        "| N | crash, ms after joining | seen down by all who knew it: min | median | max | over 10 rounds |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for delay in delays {
        let mut took = Vec::new();
        for seed in 0..seeds {
            took.push(run(n, seed, delay)?);
        }
        took.sort_by(f64::total_cmp);
        println!(
            "| {n} | {delay} | {:.1} | {:.1} | {:.1} | {}/{seeds} |",
            took[0],
            took[took.len() / 2],
            took[took.len() - 1],
            took.iter().filter(|t| **t > 10.0).count()
        );
    }
    Ok(())
}

/// Rounds from the crash until the last node that knew the newcomer
/// reported it down (infinite if one never did).
fn run(n: usize, seed: u64, delay_ms: u64) -> Result<f64, kite_sim::Failure> {
    let mut sim = Sim::new(seed);
    let hosts = sim.form_cluster(n, Duration::from_secs(600))?;
    sim.run_for(Duration::from_secs(10))?;
    let newcomer = sim.add_node();
    let via = sim.addr(hosts[seed as usize % n]).to_string();
    sim.join(newcomer, &[via]).expect("an address parses");
    let id = sim.id(newcomer).expect("it runs");
    sim.run_for(Duration::from_millis(100 + delay_ms))?;
    sim.crash(newcomer);
    let crashed = sim.now();
    sim.run_for(Duration::from_secs(200))?;
    let mut knew = BTreeSet::new();
    let mut down = BTreeMap::new();
    for e in sim.events() {
        match &e.event {
            Event::NodeJoined { id: x, .. } if *x == id => {
                knew.insert(e.host);
            }
            Event::NodeDown { id: x } if *x == id => {
                down.entry(e.host).or_insert(e.at);
            }
            _ => {}
        }
    }
    Ok(knew
        .iter()
        .map(|host| {
            down.get(host)
                .map_or(f64::INFINITY, |at| sim.rounds(at.saturating_since(crashed)))
        })
        .fold(0.0, f64::max))
}
