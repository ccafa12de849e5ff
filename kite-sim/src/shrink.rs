//! Shrinking a failing scenario to fewer steps that still fail, so the
//! trace a failure prints shows what matters.

use crate::failure::Failure;

/// The most replays one shrink may take.
const MAX_RUNS: usize = 300;

/// Runs `steps` with `run`; if that fails, looks for a shorter list of the
/// same steps (order kept) that still fails, and returns that run's
/// [`Failure`], its reason noting how far the steps shrank. Its trace (the
/// commands and faults the simulator logged) is then that of the short run.
///
/// `run` must replay the steps from scratch and deterministically (the same
/// seed every time), skipping steps that no longer apply. The search
/// removes chunks of steps, halving the chunk size down to single steps
/// (greedy delta debugging), and stops after a few hundred replays. A
/// shorter run may fail for another reason than the first one; either is a
/// bug, and the shorter one is reported.
///
/// ```
/// use kite_sim::{Sim, shrink};
///
/// // A "bug" that needs both step 3 and step 7 to show.
/// let failure = shrink(&(0..20).collect::<Vec<u32>>(), |steps| {
///     let sim = Sim::new(1);
///     let broken = steps.contains(&3) && steps.contains(&7);
///     sim.ensure(!broken, || format!("broken by {steps:?}"))
/// })
/// .unwrap_err();
/// assert!(failure.reason.starts_with("broken by [3, 7]"));
/// assert!(failure.reason.ends_with("(shrunk from 20 to 2 steps)"));
/// ```
pub fn shrink<S: Clone>(
    steps: &[S],
    mut run: impl FnMut(&[S]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let Err(mut failure) = run(steps) else {
        return Ok(());
    };
    let mut kept = steps.to_vec();
    let mut chunk = kept.len().div_ceil(2).max(1);
    let mut runs = 1;
    'search: loop {
        let mut removed = false;
        let mut start = 0;
        while start < kept.len() {
            if runs >= MAX_RUNS {
                break 'search;
            }
            let end = (start + chunk).min(kept.len());
            let candidate: Vec<S> = kept[..start].iter().chain(&kept[end..]).cloned().collect();
            runs += 1;
            match run(&candidate) {
                Err(shorter) => {
                    kept = candidate;
                    failure = shorter;
                    removed = true;
                }
                Ok(()) => start = end,
            }
        }
        match (removed, chunk) {
            (false, 1) => break,
            (false, _) => chunk = chunk.div_ceil(2),
            (true, _) => chunk = chunk.min(kept.len().div_ceil(2)).max(1),
        }
    }
    failure.reason = format!(
        "{} (shrunk from {} to {} steps)",
        failure.reason,
        steps.len(),
        kept.len()
    );
    Err(failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sim;

    fn fails_with(steps: &[u32], bad: &[u32]) -> Result<(), Failure> {
        let sim = Sim::new(1);
        sim.ensure(!bad.iter().all(|b| steps.contains(b)), || {
            format!("{steps:?}")
        })
    }

    #[test]
    fn passing_steps_are_run_once() {
        let mut runs = 0;
        let result = shrink(&[1, 2, 3], |steps| {
            runs += 1;
            fails_with(steps, &[9])
        });
        assert!(result.is_ok());
        assert_eq!(runs, 1);
    }

    #[test]
    fn shrinks_to_the_steps_that_matter() {
        let steps: Vec<u32> = (0..100).collect();
        for bad in [vec![0], vec![99], vec![5, 6], vec![1, 50, 98]] {
            let failure = shrink(&steps, |s| fails_with(s, &bad)).unwrap_err();
            let expected = format!("{bad:?} (shrunk from 100 to {} steps)", bad.len());
            assert_eq!(failure.reason, expected);
        }
    }

    #[test]
    fn stops_after_the_replay_budget() {
        // Any list over 9,000 steps fails: reaching 9,001 would take about
        // a thousand single-step removals.
        let mut runs = 0;
        let failure = shrink(&(0..10_000).collect::<Vec<u32>>(), |steps| {
            runs += 1;
            let sim = Sim::new(1);
            sim.ensure(steps.len() <= 9_000, || "too long".to_owned())
        })
        .unwrap_err();
        assert_eq!(runs, MAX_RUNS);
        assert!(
            failure
                .reason
                .starts_with("too long (shrunk from 10000 to 9")
        );
    }
}
