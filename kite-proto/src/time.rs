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
