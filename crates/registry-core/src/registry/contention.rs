//! Retrying a compare-and-set that lost a race.
//!
//! Writers of one plugin (50 matrix CI jobs publishing 50 versions) contend on its
//! revision even when nothing they write conflicts. Each round has a winner, so the
//! losers re-read and try again; a randomized, growing pause spreads them out so a
//! crowd drains in a few rounds instead of colliding every time.

use std::time::Duration;

/// Attempts before a write gives up with `concurrent_update`: enough for a crowd of
/// well over 50 writers, since every round lets at least one through.
const MAX_ATTEMPTS: u32 = 100;

/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Paces the attempts of one compare-and-set loop.
#[derive(Debug, Default)]
pub(super) struct RaceRetry {
    attempts: u32,
}

impl RaceRetry {
    /// Whether to make another attempt, after pausing if one was lost already.
    pub(super) async fn another_attempt(&mut self) -> bool {
        if self.attempts >= MAX_ATTEMPTS {
            return false;
        }
        if self.attempts > 0 {
            tokio::time::sleep(pause_before(self.attempts)).await;
        }
        self.attempts += 1;
        true
    }
}

/// "Full jitter": a uniform pause below [`ceiling`].
fn pause_before(lost: u32) -> Duration {
    let mut random = [0u8; 4];
    // Without entropy the pause is the ceiling: slower, still correct.
    let fraction = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    ceiling(lost).mul_f64(fraction)
}

/// The longest pause after `lost` attempts: doubles from 2 ms up to `MAX_PAUSE`.
fn ceiling(lost: u32) -> Duration {
    Duration::from_millis(1u64 << lost.min(6)).min(MAX_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_cap_and_stay_below_it() {
        assert_eq!(ceiling(1), Duration::from_millis(2));
        assert_eq!(ceiling(3), Duration::from_millis(8));
        assert_eq!(ceiling(99), MAX_PAUSE);
        let pauses: Vec<_> = (0..50).map(|_| pause_before(10)).collect();
        assert!(pauses.iter().all(|p| *p <= MAX_PAUSE));
        assert!(
            pauses.iter().any(|p| *p != pauses[0]),
            "pauses are spread, not all equal: {pauses:?}"
        );
    }
}
