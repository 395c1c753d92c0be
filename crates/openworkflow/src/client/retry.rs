//! When to send a request again, and how long to wait first: pure functions of
//! the outcome, tested on their own.

use std::time::Duration;

use reqwest::StatusCode;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_backoff: Duration::from_millis(250),
        }
    }
}

/// The wait before retry number `attempt` (1 for the first retry): exponential,
/// with up to half again of jitter so many clients do not retry in step.
pub(crate) fn backoff(policy: RetryPolicy, attempt: u32) -> Duration {
    let base = policy.first_backoff * 2u32.saturating_pow(attempt.saturating_sub(1));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 500) / 1000.0)
}

/// Whether a request may be sent again when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeatable {
    /// Reads, deletes and deprecations: the same request twice has one effect.
    Yes,
    /// Publish, key creation: retried only when the registry cannot have acted.
    OnlyIfUnprocessed,
}

/// How one attempt ended, as far as retrying cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The registry answered with this status.
    Answered(StatusCode),
    /// No connection was made: the registry never saw the request.
    NotConnected,
    /// The connection broke or timed out: the registry may have acted.
    Interrupted,
}

/// Whether to send the request again after `outcome`. 429 and 503 say the
/// registry did not act, so any request may repeat; other 5xx answers and broken
/// connections leave it unknown, so only a repeatable request does; a request
/// that never connected is always safe to send again.
pub(crate) fn should_retry(outcome: Outcome, repeatable: Repeatable) -> bool {
    match outcome {
        Outcome::Answered(StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) => true,
        Outcome::Answered(status) => status.is_server_error() && repeatable == Repeatable::Yes,
        Outcome::NotConnected => true,
        Outcome::Interrupted => repeatable == Repeatable::Yes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_registry_cannot_have_acted_on_is_repeated_for_a_write() {
        use Outcome::*;
        use Repeatable::*;
        let s = |code: u16| Answered(StatusCode::from_u16(code).unwrap_or(StatusCode::OK));
        let table = [
            (s(200), Yes, false),
            (s(200), OnlyIfUnprocessed, false),
            (s(404), Yes, false),
            (s(409), OnlyIfUnprocessed, false),
            (s(429), Yes, true),
            (s(429), OnlyIfUnprocessed, true),
            (s(503), OnlyIfUnprocessed, true),
            (s(500), Yes, true),
            (s(500), OnlyIfUnprocessed, false),
            (s(502), OnlyIfUnprocessed, false),
            (NotConnected, OnlyIfUnprocessed, true),
            (Interrupted, Yes, true),
            (Interrupted, OnlyIfUnprocessed, false),
        ];
        for (outcome, repeatable, expected) in table {
            assert_eq!(
                should_retry(outcome, repeatable),
                expected,
                "{outcome:?} {repeatable:?}"
            );
        }
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let policy = RetryPolicy {
            attempts: 4,
            first_backoff: Duration::from_millis(100),
        };
        for (attempt, base) in [(1, 100), (2, 200), (3, 400)] {
            let wait = backoff(policy, attempt);
            assert!(
                wait >= Duration::from_millis(base) && wait < Duration::from_millis(base * 3 / 2),
                "attempt {attempt}: {wait:?}"
            );
        }
    }
}
