//! Timestamps (RFC 3339 UTC, whole seconds, as the spec's examples) and the clock.

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// An instant in UTC, rendered as `2024-09-20T14:30:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

// By hand rather than through `String`: indexes parse and render hundreds of
// thousands of these, and a visitor reads the text where it lies.
impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rfc3339Visitor;
        impl serde::de::Visitor<'_> for Rfc3339Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp such as 2024-09-20T14:30:00Z")
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Timestamp, E> {
                Timestamp::parse(raw).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Rfc3339Visitor)
    }
}

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

    #[test]
    fn json_holds_the_rfc_3339_text() {
        let ts: Timestamp = serde_json::from_str(r#""2024-09-20T16:30:00+02:00""#).expect("valid");
        assert_eq!(
            serde_json::to_string(&ts).expect("renders"),
            r#""2024-09-20T14:30:00Z""#
        );
        // An escaped string is handed over owned, not borrowed; both parse.
        let escaped: Timestamp =
            serde_json::from_str(r#""2024-09-20T14:30:00\u005a""#).expect("valid");
        assert_eq!(escaped, ts);
        let bad = serde_json::from_str::<Timestamp>(r#""yesterday""#).expect_err("refused");
        assert!(bad.to_string().contains("RFC 3339"), "{bad}");
        let number = serde_json::from_str::<Timestamp>("17").expect_err("refused");
        assert!(
            number.to_string().contains("2024-09-20T14:30:00Z"),
            "{number}"
        );
    }
}
