//! The phi-accrual failure detector (Hayashibara et al.), with the
//! exponential inter-arrival model used by Cassandra: after `t` without fresh
//! evidence, `phi = t / (mean × ln 10)`, that is `-log10` of the probability
//! that evidence would be this late from a live node.
//!
//! The exponential model needs only the mean inter-arrival time. It is the
//! plain mean of the first [`WINDOW`] intervals, then an exponentially
//! weighted one with the same weight `1 / WINDOW` per new interval, so the
//! detector takes a few words per node instead of a window of samples (a
//! node tracks every other node, and a window of 100 samples per peer was
//! most of a large cluster's memory traffic).

use core::time::Duration;

use crate::time::{Millis, Timestamp};

/// How many intervals the mean is taken over (the weight of a new one is
/// `1 / WINDOW` once that many arrived).
const WINDOW: u8 = 100;

/// The smallest mean interval used, so a burst of evidence cannot make the
/// detector hair-triggered.
const MIN_MEAN_MICROS: f64 = 1_000.0;

/// A running mean of intervals: the plain mean of the first [`WINDOW`],
/// then exponentially weighted with weight `1 / WINDOW` per new interval.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IntervalMean {
    /// In microseconds; single precision (24 bits of mantissa resolve a
    /// microsecond up to 16 s) keeps a peer's detector at 12 bytes.
    mean: f32,
    /// Intervals in `mean` (the prior included), up to `WINDOW`.
    samples: u8,
}

impl IntervalMean {
    /// A mean primed with one interval of `prior`.
    pub(crate) fn new(prior: Duration) -> Self {
        IntervalMean {
            mean: prior.as_micros() as f32,
            samples: 1,
        }
    }

    pub(crate) fn add(&mut self, micros: f64) {
        self.samples = (self.samples + 1).min(WINDOW);
        let mean = self.micros();
        self.mean = (mean + (micros - mean) / f64::from(self.samples)) as f32;
    }

    /// The mean, in microseconds.
    fn micros(&self) -> f64 {
        f64::from(self.mean)
    }

    pub(crate) fn get(&self) -> Duration {
        Duration::from_micros(self.mean as u64)
    }
}

/// Arrival history of one node's liveness evidence, in 12 bytes: the last
/// arrival to the millisecond (see [`Millis`]: silences are measured up to
/// 24.8 days, far beyond any conviction at a valid threshold and interval)
/// and the mean interval.
#[derive(Clone, Debug)]
pub(crate) struct PhiDetector {
    last: Millis,
    mean: IntervalMean,
}

impl PhiDetector {
    /// A detector whose first evidence arrived at `now`, primed with one
    /// interval of `prior` until real samples arrive.
    pub(crate) fn new(now: Timestamp, prior: Duration) -> Self {
        PhiDetector {
            last: Millis::of(now),
            mean: IntervalMean::new(prior),
        }
    }

    /// Records fresh evidence at `now`; returns the interval since the
    /// previous evidence, in microseconds (none for evidence within the
    /// same millisecond).
    pub(crate) fn record(&mut self, now: Timestamp) -> Option<f64> {
        let interval = self.last.age(now).as_micros() as f64;
        if interval == 0.0 {
            return None;
        }
        self.last = Millis::of(now);
        self.mean.add(interval);
        Some(interval)
    }

    /// How long ago the last fresh evidence arrived.
    pub(crate) fn silence(&self, now: Timestamp) -> Duration {
        self.last.age(now)
    }

    /// The suspicion level at `now`, taking the mean interval as at least
    /// `floor`.
    ///
    /// The floor is the typical interval of all peers: in a large cluster a
    /// peer's evidence can come in bursts (while its heartbeat is news) and
    /// then every several rounds, and its own mean, which moves a little
    /// per sample, lags that drop by as many samples as it takes; the
    /// typical interval, fed by every peer, does not.
    pub(crate) fn phi(&self, now: Timestamp, floor: Duration) -> f64 {
        let elapsed = self.silence(now).as_micros() as f64;
        elapsed / (self.mean_micros(floor) * core::f64::consts::LN_10)
    }

    fn mean_micros(&self, floor: Duration) -> f64 {
        self.mean
            .micros()
            .max(floor.as_micros() as f64)
            .max(MIN_MEAN_MICROS)
    }

    /// No earlier than when `phi` (with the same `floor`) exceeds
    /// `threshold` if no evidence arrives (a millisecond early, against
    /// rounding), as seen at `now`.
    pub(crate) fn suspect_at(&self, threshold: f64, floor: Duration, now: Timestamp) -> Timestamp {
        let micros = threshold * self.mean_micros(floor) * core::f64::consts::LN_10;
        // `as` saturates (and maps NaN to 0): never a panic.
        let after = (micros as u64).saturating_sub(1_000);
        Timestamp::from_micros(self.last.at(now).as_micros().saturating_add(after))
    }

    /// Forgives a gap that was the local node's own stall: evidence that
    /// could not be processed while this node was paused is not held against
    /// the peer.
    pub(crate) fn forgive(&mut self, stall: Duration, now: Timestamp) {
        self.last = Millis::of(now - self.silence(now).saturating_sub(stall));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl PhiDetector {
        fn phi_(&self, now: Timestamp) -> f64 {
            self.phi(now, Duration::ZERO)
        }
    }

    #[test]
    fn the_floor_raises_a_mean_that_lags_behind() {
        let mut d = PhiDetector::new(Timestamp::ZERO, Duration::from_millis(100));
        for i in 1..=50 {
            d.record(Timestamp::from_millis(i * 100));
        }
        let now = Timestamp::from_millis(5_000 + 20_000);
        assert!(d.phi(now, Duration::ZERO) > 20.0);
        assert!(d.phi(now, Duration::from_secs(2)) < 5.0);
        let at = d.suspect_at(20.0, Duration::from_secs(2), now);
        assert!(d.phi(at, Duration::from_secs(2)) <= 20.0);
    }

    #[test]
    fn phi_grows_with_silence_relative_to_the_mean_interval() {
        let mut d = PhiDetector::new(Timestamp::ZERO, Duration::from_millis(500));
        for i in 1..=20 {
            d.record(Timestamp::from_millis(i * 500));
        }
        let last = Timestamp::from_millis(10_000);
        assert!(d.phi_(last) < 0.01);
        let one_interval = d.phi_(last + Duration::from_millis(500));
        assert!((one_interval - 1.0 / core::f64::consts::LN_10).abs() < 1e-6);
        // 20 is crossed after about 46 mean intervals.
        assert!(d.phi_(last + Duration::from_secs(22)) < 20.0);
        assert!(d.phi_(last + Duration::from_secs(24)) > 20.0);
    }

    #[test]
    fn the_mean_is_plain_at_first_then_follows_recent_intervals() {
        let mut d = PhiDetector::new(Timestamp::ZERO, Duration::from_millis(500));
        let mut now = Timestamp::ZERO;
        for _ in 0..3 {
            now = now + Duration::from_millis(1_100);
            d.record(now);
        }
        // (500 + 3 × 1100) / 4 ms: the prior still counts as one interval.
        assert!((d.mean.micros() - 950_000.0).abs() < 1e-6);
        for _ in 0..1_000 {
            now = now + Duration::from_millis(200);
            d.record(now);
        }
        assert!(
            (d.mean.micros() - 200_000.0).abs() < 100.0,
            "{}",
            d.mean.mean
        );
        // Evidence twice as frequent halves the time to the same phi.
        assert!(d.phi_(now + Duration::from_secs(10)) > 20.0);
    }

    #[test]
    fn phi_stays_within_the_threshold_until_suspect_at() {
        let mut d = PhiDetector::new(Timestamp::ZERO, Duration::from_millis(500));
        for i in 1..=30 {
            d.record(Timestamp::from_millis(i * 700));
        }
        for threshold in [1.0, 8.0, 20.0] {
            let at = d.suspect_at(threshold, Duration::ZERO, Timestamp::from_millis(21_000));
            assert!(d.phi_(at) <= threshold);
            assert!(d.phi_(at + Duration::from_millis(2)) > threshold);
        }
    }

    #[test]
    fn a_detector_works_across_the_wrap_of_its_milliseconds() {
        let start = Timestamp::from_millis((1 << 32) - 2_000);
        let mut d = PhiDetector::new(start, Duration::from_millis(500));
        let mut now = start;
        for _ in 0..10 {
            now = now + Duration::from_millis(500);
            assert_eq!(d.record(now), Some(500_000.0));
        }
        assert!(d.phi_(now + Duration::from_millis(500)) < 1.0);
        assert!(d.phi_(now + Duration::from_secs(30)) > 20.0);
        let at = d.suspect_at(20.0, Duration::ZERO, now);
        assert!(at > now && d.phi_(at) <= 20.0);
    }

    #[test]
    fn forgiving_a_local_stall_lowers_phi() {
        let mut d = PhiDetector::new(Timestamp::ZERO, Duration::from_millis(500));
        let now = Timestamp::from_millis(30_000);
        let before = d.phi_(now);
        d.forgive(Duration::from_secs(29), now);
        assert!(d.phi_(now) < before / 10.0);
    }
}
