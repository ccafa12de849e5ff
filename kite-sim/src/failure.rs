//! How a failed run reports itself: the seed to replay, what went wrong,
//! and a minimal trace.

use core::fmt;

use kite_proto::Timestamp;

/// A failed run: an invariant broke, or a condition was not met in time.
///
/// Its `Display` (and `Debug`, so `unwrap` and `?` in tests print it whole)
/// names the seed to replay, the simulated time, the reason, the commands
/// and faults of the run, and the last events concerning the nodes
/// involved.
///
/// ```
/// use kite_sim::Sim;
///
/// let sim = Sim::new(7);
/// let failure = sim.failure("something was wrong");
/// assert_eq!(failure.seed, 7);
/// assert!(failure.to_string().contains("KITE_SIM_SEED=7"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Failure {
    /// The seed that reproduces the run.
    pub seed: u64,
    /// Simulated time of the failure.
    pub at: Timestamp,
    /// What went wrong.
    pub reason: String,
    /// Commands and faults of the run, in order, with their times.
    pub actions: Vec<String>,
    /// The last events concerning the nodes involved, oldest first.
    pub events: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "kite-sim run failed at {:.3} s (seed {}): {}",
            self.at.as_duration().as_secs_f64(),
            self.seed,
            self.reason
        )?;
        writeln!(
            f,
            "replay this seed alone with KITE_SIM_SEED={} (see kite_sim::for_each_seed)",
            self.seed
        )?;
        writeln!(f, "commands and faults ({}):", self.actions.len())?;
        for action in &self.actions {
            writeln!(f, "  {action}")?;
        }
        writeln!(f, "last related events ({}):", self.events.len())?;
        for event in &self.events {
            writeln!(f, "  {event}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}
