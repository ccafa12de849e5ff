//! Running a scenario over many seeds, and replaying one.

use core::ops::Range;

use crate::failure::Failure;

/// The environment variable that restricts [`for_each_seed`] to one seed.
pub const SEED_ENV: &str = "KITE_SIM_SEED";

/// Runs `scenario` once per seed in `seeds`, or only for the seed in the
/// `KITE_SIM_SEED` environment variable when it is set (to replay a failure
/// printed by an earlier run).
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
///     let hosts = sim.add_nodes(3);
///     for h in &hosts[1..] {
///         sim.join(*h, &[hosts[0].addr().to_string()]).unwrap();
///     }
///     sim.await_convergence(Duration::from_secs(30))?;
///     Ok(())
/// });
/// ```
pub fn for_each_seed(seeds: Range<u64>, mut scenario: impl FnMut(u64) -> Result<(), Failure>) {
    let only = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let seeds: Vec<u64> = match only {
        Some(seed) => vec![seed],
        None => seeds.collect(),
    };
    for seed in seeds {
        if let Err(failure) = scenario(seed) {
            panic!("seed {seed} failed; rerun with {SEED_ENV}={seed}\n{failure}");
        }
    }
}
