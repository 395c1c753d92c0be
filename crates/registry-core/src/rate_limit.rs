//! Rate limits per principal: a burst, then one action per period.
//!
//! The counter is the generic cell rate algorithm's one number per principal and
//! action, the "theoretical arrival time" (TAT): when the principal's allowance
//! would be back to full. It lives in the storage layer, changed by
//! compare-and-set, because Lambda containers (and the nodes of a cluster) share
//! no memory: a limit kept in a process would be a limit per process.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitedAction {
    /// Publishing a slug for the first time.
    NewPlugin,
    /// Publishing a version of an existing plugin.
    NewVersion,
    /// Reporting a plugin to the admins.
    Report,
}

impl LimitedAction {
    /// The action's name in storage keys and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewPlugin => "new-plugin",
            Self::NewVersion => "new-version",
            Self::Report => "report",
        }
    }
}

/// A burst of actions, then one every `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Actions allowed at once, from a full allowance (at least 1).
    pub burst: u32,
    /// The time one action's allowance takes to come back.
    pub period: Duration,
}

impl Rate {
    /// `burst` at once, then one per `period`.
    pub const fn new(burst: u32, period: Duration) -> Self {
        Self { burst, period }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.period.as_secs();
        let period = if seconds.is_multiple_of(3600) {
            format!("{}h", seconds / 3600)
        } else if seconds.is_multiple_of(60) {
            format!("{}m", seconds / 60)
        } else {
            format!("{seconds}s")
        };
        write!(f, "{}/{period}", self.burst)
    }
}

impl FromStr for Rate {
    type Err = String;

    /// `BURST/PERIOD`, the period a whole number with `s`, `m` or `h`: `5/10m`.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let wrong =
            || format!("{raw:?} is not a rate: write BURST/PERIOD, such as 5/10m, 64/1m or 100/1h");
        let (burst, period) = raw.trim().split_once('/').ok_or_else(wrong)?;
        let burst: u32 = burst.trim().parse().map_err(|_| wrong())?;
        let period = period.trim();
        let (number, unit) = period.split_at(period.len().saturating_sub(1));
        let number: u64 = number.parse().map_err(|_| wrong())?;
        let seconds = match unit {
            "s" => number,
            "m" => number.saturating_mul(60),
            "h" => number.saturating_mul(3600),
            _ => return Err(wrong()),
        };
        if burst == 0 || seconds == 0 {
            return Err(format!(
                "{raw:?}: the burst and the period must be above zero"
            ));
        }
        Ok(Self::new(burst, Duration::from_secs(seconds)))
    }
}

/// A rate as configured: `BURST/PERIOD`, or `off` for no limit.
pub fn parse_setting(raw: &str) -> Result<Option<Rate>, String> {
    if raw.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    raw.parse().map(Some)
}

/// The limits a registry enforces; `None` leaves an action unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// First publishes of a slug, per principal.
    pub new_plugins: Option<Rate>,
    /// New versions of existing plugins, per principal.
    pub new_versions: Option<Rate>,
    /// Reports of plugins, per principal.
    pub reports: Option<Rate>,
}

impl Default for RateLimits {
    /// A burst of 5 new plugins then one per 10 minutes; a burst of 64 new
    /// versions (a CI matrix publishing at once never trips it) then one a minute;
    /// a burst of 10 reports then one every 6 minutes (10 an hour).
    fn default() -> Self {
        Self {
            new_plugins: Some(Rate::new(5, Duration::from_secs(600))),
            new_versions: Some(Rate::new(64, Duration::from_secs(60))),
            reports: Some(Rate::new(10, Duration::from_secs(360))),
        }
    }
}

impl RateLimits {
    /// The rate of `action`, if it is limited.
    pub fn of(&self, action: LimitedAction) -> Option<Rate> {
        match action {
            LimitedAction::NewPlugin => self.new_plugins,
            LimitedAction::NewVersion => self.new_versions,
            LimitedAction::Report => self.reports,
        }
    }
}

/// What the algorithm decided for one action at `now` (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed: store this as the new mark.
    Allow {
        /// The new theoretical arrival time, in seconds since the epoch.
        mark: i64,
    },
    /// Refused: the allowance comes back after this many seconds.
    Refuse {
        /// Seconds until one more action is allowed (at least 1).
        retry_after: u64,
    },
}

/// The generic cell rate algorithm: with the stored `mark` (none: a full
/// allowance), may one more action happen at `now`?
pub fn decide(rate: Rate, mark: Option<i64>, now: i64) -> Decision {
    let period = i64::try_from(rate.period.as_secs()).unwrap_or(i64::MAX);
    let tolerance = period.saturating_mul(i64::from(rate.burst.saturating_sub(1)));
    let start = mark.map_or(now, |mark| mark.max(now));
    let ahead = start - now;
    if ahead > tolerance {
        let wait = u64::try_from(ahead - tolerance).unwrap_or(1).max(1);
        return Decision::Refuse { retry_after: wait };
    }
    Decision::Allow {
        mark: start.saturating_add(period),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print_alike() {
        for raw in ["5/10m", "64/1m", "1/30s", "100/2h"] {
            let rate: Rate = raw.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(rate.to_string(), raw);
        }
        assert_eq!(
            "5/10m".parse::<Rate>(),
            Ok(Rate::new(5, Duration::from_secs(600)))
        );
        for bad in ["5", "0/1m", "5/0m", "5/10", "five/1m", "5/1d", "/1m"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_then_one_per_period() {
        let rate = Rate::new(5, Duration::from_secs(600));
        let mut mark = None;
        for _ in 0..5 {
            match decide(rate, mark, 1_000) {
                Decision::Allow { mark: next } => mark = Some(next),
                refused => panic!("within the burst: {refused:?}"),
            }
        }
        assert_eq!(
            decide(rate, mark, 1_000),
            Decision::Refuse { retry_after: 600 },
            "the sixth waits a whole period"
        );
        assert_eq!(
            decide(rate, mark, 1_599),
            Decision::Refuse { retry_after: 1 }
        );
        assert!(matches!(decide(rate, mark, 1_600), Decision::Allow { .. }));
    }

    #[test]
    fn an_idle_principal_gets_its_burst_back_and_no_more() {
        let rate = Rate::new(3, Duration::from_secs(60));
        let mut mark = None;
        for at in [0, 0, 0] {
            if let Decision::Allow { mark: next } = decide(rate, mark, at) {
                mark = Some(next);
            }
        }
        // A day later the allowance is full again: three, then a refusal.
        let later = 86_400;
        for _ in 0..3 {
            match decide(rate, mark, later) {
                Decision::Allow { mark: next } => mark = Some(next),
                refused => panic!("{refused:?}"),
            }
        }
        assert!(matches!(decide(rate, mark, later), Decision::Refuse { .. }));
    }
}
