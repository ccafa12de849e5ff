//! Host clocks that drift: each host reads its own time, offset from and
//! running slightly faster or slower than the simulation's true time.
//!
//! Nodes only ever see their host's clock (every timestamp handed to a
//! node, and the deadlines it asks for, are in that clock), so a detector or
//! timer that wrongly compared durations across nodes would show up as false
//! downs or missed rounds.

use kite_proto::Timestamp;
use rand_core::RngCore;

/// One host's clock: `offset + true time × rate`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct HostClock {
    offset: u64,
    rate: f64,
}

impl HostClock {
    /// The true time itself.
    pub(super) const EXACT: HostClock = HostClock {
        offset: 0,
        rate: 1.0,
    };

    /// A clock running at a random rate within `1 ± max_drift`, started at
    /// a random reading within the first hour.
    pub(super) fn random(rng: &mut impl RngCore, max_drift: f64) -> HostClock {
        let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        HostClock {
            offset: rng.next_u64() % 3_600_000_000,
            rate: 1.0 + max_drift * (2.0 * unit - 1.0),
        }
    }

    /// What this clock reads at true time `t`.
    pub(super) fn local(&self, t: Timestamp) -> Timestamp {
        Timestamp::from_micros(self.offset + (t.as_micros() as f64 * self.rate) as u64)
    }

    /// The earliest true time at which this clock reads `local` or later.
    pub(super) fn global(&self, local: Timestamp) -> Timestamp {
        let since = local.as_micros().saturating_sub(self.offset);
        let mut t = (since as f64 / self.rate).ceil() as u64;
        // Undo floating-point rounding in either direction.
        while self.local(Timestamp::from_micros(t)) < local {
            t += 1;
        }
        while t > 0 && self.local(Timestamp::from_micros(t - 1)) >= local {
            t -= 1;
        }
        Timestamp::from_micros(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kite_proto::SeededRng;

    #[test]
    fn global_is_the_first_true_time_reading_at_least_local() {
        let mut rng = SeededRng::from_seed_u64(5);
        for _ in 0..100 {
            let clock = HostClock::random(&mut rng, 0.05);
            assert!((0.95..=1.05).contains(&clock.rate));
            for t in [0u64, 1, 999, 1_234_567, 86_400_000_000] {
                let local = clock.local(Timestamp::from_micros(t));
                let g = clock.global(local);
                assert!(g.as_micros() <= t);
                assert_eq!(clock.local(g), local);
                if g.as_micros() > 0 {
                    assert!(clock.local(Timestamp::from_micros(g.as_micros() - 1)) < local);
                }
            }
        }
        let exact = HostClock::EXACT;
        assert_eq!(
            exact.global(Timestamp::from_micros(77)),
            Timestamp::from_micros(77)
        );
    }
}
