//! The failure detector a monitor runs on the direct heartbeats of the nodes
//! it watches: phi accrual with the normal model of Hayashibara et al. and
//! Akka, `phi = -log10 P(a heartbeat comes later than t)`, for a normal
//! distribution of inter-arrival times with a minimum standard deviation,
//! shifted by an acceptable pause.
//!
//! Direct heartbeats arrive once a gossip interval, so their spread is small
//! and phi grows steeply once one is overdue: at the default threshold 20 a
//! silent node is suspected after about four intervals (one interval, one
//! more tolerated as a lost heartbeat, and 7.8 standard deviations of at
//! least a quarter interval). Gossip-relayed evidence, irregular and rarer
//! as clusters grow, keeps the exponential model of [`crate::phi`].

use core::time::Duration;

use crate::time::Timestamp;

/// How many intervals the mean and variance are taken over (the weight of a
/// new one once that many arrived).
const WINDOW: u32 = 100;

/// Arrival history of one watched node's direct heartbeats.
#[derive(Clone, Debug)]
pub(crate) struct DirectDetector {
    last: Timestamp,
    /// Mean interval, in microseconds.
    mean: f64,
    /// Variance of the intervals, in square microseconds.
    variance: f64,
    samples: u32,
    /// Smallest standard deviation used, in microseconds.
    min_std: f64,
    /// Silence tolerated on top of the mean before phi rises, in microseconds.
    pause: f64,
}

impl DirectDetector {
    /// A detector whose first heartbeat arrived at `now`, for heartbeats
    /// expected every `interval`: the mean starts there, the standard
    /// deviation is at least a quarter of it, and one more interval of
    /// silence (a lost heartbeat) is tolerated.
    pub(crate) fn new(now: Timestamp, interval: Duration) -> Self {
        let interval = interval.as_micros() as f64;
        let min_std = interval / 4.0;
        DirectDetector {
            last: now,
            mean: interval,
            variance: min_std * min_std,
            samples: 1,
            min_std,
            pause: interval,
        }
    }

    /// Records a heartbeat at `now`.
    pub(crate) fn record(&mut self, now: Timestamp) {
        let interval = now.saturating_since(self.last).as_micros() as f64;
        if interval == 0.0 {
            return;
        }
        self.last = now;
        self.samples = (self.samples + 1).min(WINDOW);
        let weight = 1.0 / f64::from(self.samples);
        let delta = interval - self.mean;
        self.mean += weight * delta;
        self.variance = (1.0 - weight) * (self.variance + weight * delta * delta);
    }

    /// When the last heartbeat arrived.
    pub(crate) fn last(&self) -> Timestamp {
        self.last
    }

    fn std(&self) -> f64 {
        self.variance.sqrt().max(self.min_std)
    }

    /// The suspicion level at `now`.
    pub(crate) fn phi(&self, now: Timestamp) -> f64 {
        let elapsed = now.saturating_since(self.last).as_micros() as f64;
        phi_of((elapsed - self.mean - self.pause) / self.std())
    }

    /// Forgives a gap that was the local node's own stall.
    pub(crate) fn forgive(&mut self, stall: Duration, now: Timestamp) {
        self.last = (self.last + stall).min(now);
    }
}

/// The exponent of the logistic approximation of the normal tail (Bowling
/// et al. 2009, as Akka uses it): `P(Z > y) ≈ 1 / (1 + e^g(y))`.
fn g(y: f64) -> f64 {
    y * (1.5976 + 0.070566 * y * y)
}

/// `-log10 P(Z > y)` for a standard normal `Z`.
fn phi_of(y: f64) -> f64 {
    // log10(1 + e^g), computed without overflow for large g.
    let g = g(y);
    if g > 30.0 {
        g / core::f64::consts::LN_10
    } else {
        g.exp().ln_1p() / core::f64::consts::LN_10
    }
}

#[cfg(test)]
/// How many standard deviations past the mean and the pause phi reaches
/// `threshold` (for the table in the docs, and for tests).
pub(crate) fn deviations_at(threshold: f64) -> f64 {
    let (mut low, mut high) = (-10.0, 100.0);
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if phi_of(mid) < threshold {
            low = mid;
        } else {
            high = mid;
        }
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALF: Duration = Duration::from_millis(500);

    #[test]
    fn phi_stays_low_for_regular_heartbeats_and_rises_steeply_after() {
        let mut d = DirectDetector::new(Timestamp::ZERO, HALF);
        for i in 1..=40 {
            d.record(Timestamp::from_millis(i * 500));
        }
        let last = Timestamp::from_millis(20_000);
        assert!(d.phi(last + HALF) < 0.5, "one interval is normal");
        assert!(
            d.phi(last + HALF * 2) < 1.0,
            "one lost heartbeat is tolerated"
        );
        let at_20 = last + Duration::from_millis(500 + 500 + (deviations_at(20.0) * 125.0) as u64);
        assert!(d.phi(at_20 - Duration::from_millis(20)) < 20.0);
        assert!(d.phi(at_20 + Duration::from_millis(20)) > 20.0);
        // About four intervals at threshold 20, three at 8.
        assert!((at_20.saturating_since(last).as_secs_f64() - 1.98).abs() < 0.1);
        assert!((deviations_at(8.0) - 5.2).abs() < 0.2);
    }

    #[test]
    fn irregular_heartbeats_widen_the_wait() {
        let mut steady = DirectDetector::new(Timestamp::ZERO, HALF);
        let mut jumpy = DirectDetector::new(Timestamp::ZERO, HALF);
        let mut at = 0;
        for i in 1..=60u64 {
            steady.record(Timestamp::from_millis(i * 500));
            at += if i % 3 == 0 { 1_200 } else { 150 };
            jumpy.record(Timestamp::from_millis(at));
        }
        let gap = Duration::from_millis(2_500);
        let steady_phi = steady.phi(Timestamp::from_millis(30_000) + gap);
        let jumpy_phi = jumpy.phi(Timestamp::from_millis(at) + gap);
        assert!(jumpy_phi < steady_phi / 2.0, "{jumpy_phi} vs {steady_phi}");
    }

    #[test]
    fn phi_is_finite_and_monotone_for_any_silence() {
        let d = DirectDetector::new(Timestamp::ZERO, HALF);
        let mut previous = f64::NEG_INFINITY;
        for ms in (0..100_000_000u64).step_by(997_331) {
            let phi = d.phi(Timestamp::from_millis(ms));
            assert!(phi.is_finite() && phi >= previous, "{ms} ms: {phi}");
            previous = phi;
        }
    }

    #[test]
    fn forgiving_a_local_stall_lowers_phi() {
        let mut d = DirectDetector::new(Timestamp::ZERO, HALF);
        let now = Timestamp::from_millis(10_000);
        assert!(d.phi(now) > 20.0);
        d.forgive(Duration::from_millis(9_500), now);
        assert!(d.phi(now) < 1.0);
        assert_eq!(d.last(), Timestamp::from_millis(9_500));
    }
}
