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

/// "Full jitter": a uniform pause below a ceiling that doubles from 1 ms per lost
/// attempt up to `MAX_PAUSE`.
fn pause_before(lost: u32) -> Duration {
    let ceiling = Duration::from_millis(1u64 << lost.min(6)).min(MAX_PAUSE);
    let mut random = [0u8; 4];
    // Without entropy the pause is the ceiling: slower, still correct.
    let fraction = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    ceiling.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_cap_and_stay_below_it() {
        for lost in 1..20 {
            let ceiling = Duration::from_millis(1u64 << lost.min(6)).min(MAX_PAUSE);
            for _ in 0..20 {
                assert!(pause_before(lost) <= ceiling);
            }
        }
        assert_eq!(
            Duration::from_millis(1u64 << 19u32.min(6)).min(MAX_PAUSE),
            MAX_PAUSE
        );
    }
}
