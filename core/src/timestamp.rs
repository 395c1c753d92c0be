//! Timestamps (RFC 3339 UTC, whole seconds, as the spec's examples) and the clock.

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// An instant in UTC, rendered as `2024-09-20T14:30:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Wraps a time, normalised to UTC and truncated to whole seconds.
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        Self(utc.replace_nanosecond(0).unwrap_or(utc))
    }

    /// Parses an RFC 3339 timestamp.
    pub fn parse(raw: &str) -> Result<Self, String> {
        OffsetDateTime::parse(raw, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|e| format!("not an RFC 3339 timestamp: {e}"))
    }

    /// The UTC calendar day of this instant, the unit of download counters.
    pub fn day(&self) -> Date {
        self.0.date()
    }

    /// This instant moved by `by`.
    pub fn plus(&self, by: Duration) -> Self {
        Self(self.0 + by)
    }

    /// The time elapsed from `earlier` to this instant.
    pub fn since(&self, earlier: Timestamp) -> Duration {
        self.0 - earlier.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rfc3339 formatting of a UTC value with zero nanoseconds prints `...:00Z`.
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl TryFrom<String> for Timestamp {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Timestamp> for String {
    fn from(value: Timestamp) -> Self {
        value.to_string()
    }
}

/// A source of the current time, so time-based rules (the 72-hour unpublish window,
/// daily counters) can be tested without sleeping.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }
}

/// A clock that moves only when told to: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now = now.plus(by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_spec() {
        let ts = Timestamp::parse("2024-09-20T16:30:00.123+02:00").expect("valid");
        assert_eq!(ts.to_string(), "2024-09-20T14:30:00Z");
    }
}
