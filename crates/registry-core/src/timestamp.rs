//! Timestamps (RFC 3339 UTC, whole seconds, as the spec's examples) and the clock.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

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
        if let Some(at) = Self::parse_canonical(raw) {
            return Ok(at);
        }
        OffsetDateTime::parse(raw, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|e| format!("not an RFC 3339 timestamp: {e}"))
    }

    /// Reads the form this registry writes, `YYYY-MM-DDTHH:MM:SSZ`, without the
    /// general RFC 3339 parser: a search index's cold load reads two per plugin.
    /// `None` for anything else (offsets, fractions, leap seconds, invalid dates),
    /// which the general parser then decides.
    fn parse_canonical(raw: &str) -> Option<Self> {
        let b = raw.as_bytes();
        let shape = b.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z';
        if !shape {
            return None;
        }
        let digits = |from: usize, to: usize| {
            b[from..to].iter().try_fold(0u16, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0'))
            })
        };
        let two = |from: usize| digits(from, from + 2).and_then(|n| u8::try_from(n).ok());
        let month = Month::try_from(two(5)?).ok()?;
        let date = Date::from_calendar_date(i32::from(digits(0, 4)?), month, two(8)?).ok()?;
        let time = Time::from_hms(two(11)?, two(14)?, two(17)?).ok()?;
        Some(Self(PrimitiveDateTime::new(date, time).assume_utc()))
    }

    /// Seconds since 1970 (DynamoDB's time-to-live wants them).
    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
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

/// How a calendar day is stored beside a counter: `2026-03-01`, as `Date` prints.
const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// A day as stored (`2026-03-01`), or `None` for anything else.
pub fn parse_day(text: &str) -> Option<Date> {
    Date::parse(text, DAY).ok()
}

/// A source of the current time, so time-based rules (the 72-hour unpublish window,
/// daily counters) can be tested without sleeping.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// The current instant in microseconds since 1970: finer than [`Clock::now`],
    /// it orders records made within one second (the audit log's ids).
    fn now_micros(&self) -> i64 {
        self.now().unix_seconds().saturating_mul(1_000_000)
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }

    fn now_micros(&self) -> i64 {
        i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to: for tests and simulations. Within a
/// second, each [`Clock::now_micros`] reading is one microsecond after the last,
/// so what a test does in order is recorded in order.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>, AtomicI64);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start), AtomicI64::new(0))
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

    fn now_micros(&self) -> i64 {
        let tick = self.1.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        self.now().unix_seconds().saturating_mul(1_000_000) + tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_reads_as_the_general_parser_reads_it() {
        let general = |raw: &str| {
            OffsetDateTime::parse(raw, &Rfc3339)
                .map(Timestamp::from_datetime)
                .ok()
        };
        // Every month's edges, leap years and not, midnight and the last second.
        for year in [1970, 1999, 2000, 2023, 2024, 2100, 9999] {
            for month in 1..=12 {
                for day in [1, 28, 29, 30, 31] {
                    for clock in ["00:00:00", "12:34:56", "23:59:59"] {
                        let raw = format!("{year:04}-{month:02}-{day:02}T{clock}Z");
                        assert_eq!(Timestamp::parse_canonical(&raw), general(&raw), "{raw}");
                    }
                }
            }
        }
        // Not the canonical form: left to the general parser, which decides.
        for raw in [
            "2024-09-20T14:30:00.5Z",
            "2024-09-20T14:30:00+00:00",
            "2024-09-20t14:30:00z",
            "2024-13-01T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2024-09-20T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "2024-09-2aT14:30:00Z",
            "+024-09-20T14:30:00Z",
        ] {
            assert_eq!(Timestamp::parse_canonical(raw), None, "{raw}");
        }
        assert!(Timestamp::parse("2024-02-30T00:00:00Z").is_err());
        assert!(Timestamp::parse("2024-09-20T14:30:00+00:00").is_ok());
    }

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
