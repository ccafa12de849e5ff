//! Time as the core sees it: a monotonic timestamp handed in by the driver.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the driver's monotonic clock, in microseconds since an
/// arbitrary epoch chosen by the driver.
///
/// The core never reads a clock: every input carries a `Timestamp`. Adapters
/// usually take `Timestamp::from_duration(start.elapsed())` for a fixed
/// `start: std::time::Instant`; the simulator uses its virtual clock.
///
/// ```
/// use core::time::Duration;
/// use kite_proto::Timestamp;
///
/// let t = Timestamp::from_millis(1_500);
/// assert_eq!(t + Duration::from_millis(500), Timestamp::from_millis(2_000));
/// assert_eq!(Timestamp::from_millis(2_000).saturating_since(t), Duration::from_millis(500));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Timestamp(micros)
    }

    /// A timestamp `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Timestamp(millis.saturating_mul(1_000))
    }

    /// A timestamp `elapsed` after the epoch (saturating at about 584,000 years).
    pub fn from_duration(elapsed: Duration) -> Self {
        Timestamp(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// The time since the epoch.
    pub const fn as_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }

    /// How long after `earlier` this is; zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: Duration) -> Timestamp {
        let micros = u64::try_from(rhs.as_micros()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(micros))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;

    fn sub(self, rhs: Duration) -> Timestamp {
        let micros = u64::try_from(rhs.as_micros()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_sub(micros))
    }
}

/// A time kept in 32 bits, for the times a node keeps of every peer: the
/// low 32 bits of a [`Timestamp`]'s milliseconds, compared with the present
/// in serial-number arithmetic (RFC 1982), so it needs no epoch and keeps
/// working however long the node runs. Ages are exact to the millisecond up
/// to [`Millis::MAX_AGE`] (24.8 days), which is why `node_expiry` is at most
/// 24 days. Half the size of a `Timestamp`, which matters times three in a
/// peer table of thousands (`docs/design.md`, "Memory").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Millis(u32);

impl Millis {
    /// The longest age told apart: 2^31 ms, about 24.8 days.
    pub(crate) const MAX_AGE: Duration = Duration::from_millis(1 << 31);

    /// `t`, to the millisecond.
    pub(crate) fn of(t: Timestamp) -> Self {
        Millis((t.as_micros() / 1_000) as u32)
    }

    /// How long before `now` this was, to the millisecond, if no more than
    /// [`Millis::MAX_AGE`] (a time that reads as later than `now` is zero).
    pub(crate) fn age(self, now: Timestamp) -> Duration {
        let millis = Millis::of(now).0.wrapping_sub(self.0);
        if millis >= 1 << 31 {
            Duration::ZERO
        } else {
            Duration::from_millis(u64::from(millis))
        }
    }

    /// This time as a `Timestamp`, given `now`.
    pub(crate) fn at(self, now: Timestamp) -> Timestamp {
        now - self.age(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_tell_ages_across_the_wrap() {
        let start = Timestamp::from_millis(u64::from(u32::MAX) - 5);
        let t = Millis::of(start);
        let later = start + Duration::from_millis(1_000);
        assert_eq!(t.age(later), Duration::from_millis(1_000));
        assert_eq!(t.at(later), start);
        assert_eq!(t.age(start - Duration::from_millis(3)), Duration::ZERO);
        let oldest = start + Millis::MAX_AGE - Duration::from_millis(1);
        assert_eq!(t.age(oldest), Millis::MAX_AGE - Duration::from_millis(1));
        assert_eq!(
            Millis::of(Timestamp::from_micros(1_999)).age(Timestamp::from_micros(2_000)),
            Duration::from_millis(1)
        );
    }
}
