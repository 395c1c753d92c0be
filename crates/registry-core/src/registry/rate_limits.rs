//! Taking one action's allowance from a principal's rate limit, before the
//! action writes anything.

use std::sync::Arc;

use super::Registry;
use super::contention::RaceRetry;
use crate::auth::{Caller, Scope};
use crate::error::RegistryError;
use crate::rate_limit::{Decision, LimitedAction, RateLimits, decide};
use crate::store::{RateLimitStore, StorageError};

impl Registry {
    /// Enforces `limits`, with their marks in `store`.
    #[must_use]
    pub fn with_rate_limits(mut self, store: Arc<dyn RateLimitStore>, limits: RateLimits) -> Self {
        self.rate_limits = Some((store, limits));
        self
    }

    /// Takes one `action` from the caller's allowance, or refuses with how long
    /// to wait. Admin keys are not limited.
    pub(crate) async fn take_allowance(
        &self,
        caller: &Caller,
        action: LimitedAction,
    ) -> Result<(), RegistryError> {
        let Some((store, limits)) = &self.rate_limits else {
            return Ok(());
        };
        let Some(rate) = limits.of(action) else {
            return Ok(());
        };
        if caller.can(Scope::Admin) {
            return Ok(());
        }
        let key = format!("{}:{}", action.as_str(), caller.principal);
        let mut retry = RaceRetry::default();
        while retry.another_attempt().await {
            let mark = store.rate_mark(&key).await?;
            match decide(rate, mark, self.clock.now().unix_seconds()) {
                Decision::Refuse { retry_after } => {
                    return Err(RegistryError::RateLimited {
                        action: action.as_str(),
                        rate: rate.to_string(),
                        retry_after,
                    });
                }
                Decision::Allow { mark: next } => {
                    match store.swap_rate_mark(&key, mark, next).await {
                        Ok(()) => return Ok(()),
                        // Another request of the same principal took one first.
                        Err(StorageError::Conflict(_)) => continue,
                        Err(other) => return Err(other.into()),
                    }
                }
            }
        }
        Err(RegistryError::ConcurrentUpdate { slug: key })
    }
}
