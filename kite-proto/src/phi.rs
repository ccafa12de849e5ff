//! The phi-accrual failure detector (Hayashibara et al.), with the
//! exponential inter-arrival model used by Cassandra: after `t` without fresh
//! evidence, `phi = t / (mean × ln 10)`, that is `-log10` of the probability
//! that evidence would be this late from a live node.

use core::time::Duration;
use std::collections::VecDeque;

use crate::time::Timestamp;

/// Inter-arrival samples kept per node.
const WINDOW: usize = 100;

/// The smallest mean interval used, so a burst of evidence cannot make the
/// detector hair-triggered.
const MIN_MEAN_MICROS: u64 = 1_000;

/// Arrival history of one node's liveness evidence.
#[derive(Clone, Debug)]
pub(crate) struct PhiDetector {
    last: Timestamp,
    intervals: VecDeque<u64>,
    sum: u64,
}

impl PhiDetector {
    /// A detector whose first evidence arrived at `now`, primed with one
    /// interval of `prior` (the gossip interval) until real samples arrive.
    pub(crate) fn new(now: Timestamp, prior: Duration) -> Self {
        let prior = u64::try_from(prior.as_micros()).unwrap_or(u64::MAX);
        PhiDetector {
            last: now,
            intervals: VecDeque::from([prior]),
            sum: prior,
        }
    }

    /// Records fresh evidence at `now`.
    pub(crate) fn record(&mut self, now: Timestamp) {
        let interval = now.saturating_since(self.last).as_micros() as u64;
        if interval == 0 {
            return;
        }
        self.last = now;
        if self.intervals.len() == WINDOW
            && let Some(old) = self.intervals.pop_front()
        {
            self.sum -= old;
        }
        self.intervals.push_back(interval);
        self.sum += interval;
    }

    /// The suspicion level at `now`.
    pub(crate) fn phi(&self, now: Timestamp) -> f64 {
        let elapsed = now.saturating_since(self.last).as_micros() as f64;
        let mean = (self.sum / self.intervals.len().max(1) as u64).max(MIN_MEAN_MICROS);
        elapsed / (mean as f64 * core::f64::consts::LN_10)
    }

    /// Forgives a gap that was the local node's own stall: evidence that
    /// could not be processed while this node was paused is not held against
    /// the peer.
    pub(crate) fn forgive(&mut self, stall: Duration, now: Timestamp) {
        self.last = (self.last + stall).min(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_grows_with_silence_relative_to_the_mean_interval() {
        let mut d = PhiDetector::new(Timestamp::ZERO, Duration::from_millis(500));
        for i in 1..=20 {
            d.record(Timestamp::from_millis(i * 500));
        }
        let last = Timestamp::from_millis(10_000);
        assert!(d.phi(last) < 0.01);
        let one_interval = d.phi(last + Duration::from_millis(500));
        assert!((one_interval - 1.0 / core::f64::consts::LN_10).abs() < 1e-6);
        // 20 is crossed after about 46 mean intervals.
        assert!(d.phi(last + Duration::from_secs(22)) < 20.0);
        assert!(d.phi(last + Duration::from_secs(24)) > 20.0);
    }

    #[test]
    fn forgiving_a_local_stall_lowers_phi() {
        let mut d = PhiDetector::new(Timestamp::ZERO, Duration::from_millis(500));
        let now = Timestamp::from_millis(30_000);
        let before = d.phi(now);
        d.forgive(Duration::from_secs(29), now);
        assert!(d.phi(now) < before / 10.0);
    }
}
