//! Running a scenario over many seeds, and replaying one.

use core::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::failure::Failure;

/// The environment variable that restricts [`for_each_seed`] and
/// [`hunt_seeds`] to one seed.
pub const SEED_ENV: &str = "KITE_SIM_SEED";

/// The environment variable that replaces the seed range of
/// [`for_each_seed`] and [`hunt_seeds`]: `FROM..TO` (`TO` excluded).
pub const SEEDS_ENV: &str = "KITE_SIM_SEEDS";

/// The seeds to run: `KITE_SIM_SEED` alone if set, else the range in
/// `KITE_SIM_SEEDS` if set, else `seeds`.
///
/// # Panics
///
/// If `KITE_SIM_SEEDS` is set but is not `FROM..TO`.
fn chosen(seeds: Range<u64>) -> Range<u64> {
    let var = |name| std::env::var(name).ok().filter(|s| !s.trim().is_empty());
    if let Some(seed) = var(SEED_ENV).and_then(|s| s.trim().parse::<u64>().ok()) {
        return seed..seed + 1;
    }
    match var(SEEDS_ENV) {
        Some(range) => parse_range(&range)
            .unwrap_or_else(|| panic!("{SEEDS_ENV}={range:?} is not FROM..TO, e.g. 1000..11000")),
        None => seeds,
    }
}

fn parse_range(range: &str) -> Option<Range<u64>> {
    let (from, to) = range.trim().split_once("..")?;
    Some(from.trim().parse().ok()?..to.trim().parse().ok()?)
}

/// Runs `scenario` once per seed in `seeds`, in order, or for the seeds the
/// environment chooses instead: `KITE_SIM_SEED=N` replays one seed (a
/// failure printed by an earlier run), `KITE_SIM_SEEDS=FROM..TO` runs
/// another range.
///
/// # Panics
///
/// At the first failing seed, printing the [`Failure`] (seed, reason,
/// commands and recent events) and how to replay it.
///
/// ```
/// use core::time::Duration;
/// use kite_sim::{Sim, for_each_seed};
///
/// for_each_seed(0..3, |seed| {
///     let mut sim = Sim::new(seed);
///     sim.form_cluster(3, Duration::from_secs(30))?;
///     Ok(())
/// });
/// ```
pub fn for_each_seed(seeds: Range<u64>, mut scenario: impl FnMut(u64) -> Result<(), Failure>) {
    for seed in chosen(seeds) {
        if let Err(failure) = scenario(seed) {
            panic!("seed {seed} failed; rerun with {SEED_ENV}={seed}\n{failure}");
        }
    }
}

/// Runs `scenario` for every seed of `seeds` (or those the environment
/// chooses, as for [`for_each_seed`]) on every core, and reports every
/// failing seed rather than the first: a bug hunt over thousands of seeds.
/// Prints the range, the wall time and the failing seeds.
///
/// # Panics
///
/// After the last seed, if any failed, printing each [`Failure`].
///
/// ```
/// use core::time::Duration;
/// use kite_sim::{Sim, hunt_seeds};
///
/// hunt_seeds(0..4, |seed| {
///     let mut sim = Sim::new(seed);
///     let hosts = sim.add_nodes(2);
///     sim.join(hosts[1], &[hosts[0].addr().to_string()]).unwrap();
///     sim.await_convergence(Duration::from_secs(30)).map(drop)
/// });
/// ```
pub fn hunt_seeds(seeds: Range<u64>, scenario: impl Fn(u64) -> Result<(), Failure> + Sync) {
    let seeds = chosen(seeds);
    let started = Instant::now();
    let next = AtomicU64::new(seeds.start);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= seeds.end {
                        break;
                    }
                    if let Err(failure) = scenario(seed) {
                        eprintln!("seed {seed} failed: {}", failure.reason);
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((seed, failure));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|(seed, _)| *seed);
    let failing: Vec<u64> = failures.iter().map(|(seed, _)| *seed).collect();
    eprintln!(
        "seeds {}..{}: {} run on {threads} threads in {:.1} s, {} failed {failing:?}",
        seeds.start,
        seeds.end,
        seeds.end.saturating_sub(seeds.start),
        started.elapsed().as_secs_f64(),
        failures.len(),
    );
    if !failures.is_empty() {
        let report: Vec<String> = failures
            .iter()
            .map(|(seed, failure)| format!("seed {seed}; rerun with {SEED_ENV}={seed}\n{failure}"))
            .collect();
        panic!(
            "{} seeds failed: {failing:?}\n\n{}",
            failures.len(),
            report.join("\n\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_parse_with_or_without_spaces() {
        assert_eq!(parse_range("1000..11000"), Some(1000..11000));
        assert_eq!(parse_range(" 3 .. 5 "), Some(3..5));
        assert_eq!(parse_range("12"), None);
        assert_eq!(parse_range("a..b"), None);
    }
}
