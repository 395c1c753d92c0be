//! Signing people in through an identity provider, and their browser sessions.
//!
//! A sign-in is two requests. The first stores a [`LoginAttempt`] under the hash of
//! a fresh secret that goes to the browser in a cookie, and sends the browser to
//! the provider. The callback must bring that cookie back: the attempt is taken
//! (once), its `state` compared, and the provider asked who signed in (PKCE, and
//! for OpenID Connect the ID token's signature, issuer, audience, expiry and
//! nonce). The person's account is found by the provider's stable subject id, or
//! made on first sign-in together with a new `user` principal; a session secret
//! goes back in the session cookie.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use super::Registry;
use crate::account::{
    Account, EmailAddress, IdentityProvider, LOGIN_ATTEMPT_LIFETIME, LoginAttempt, OpaqueSecret,
    SESSION_LIFETIME, SessionId, SessionRecord, SignInError, clean_login,
};
use crate::auth::{Caller, Credential, Principal, PrincipalId, PrincipalKind, Scope, Scopes};
use crate::error::RegistryError;
use crate::org::Permission;
use crate::store::{AccountStore, Conflict, StorageError};
use crate::timestamp::Timestamp;

/// Where a browser goes after signing in when it asked for nothing else.
pub const DEFAULT_RETURN_TO: &str = "/account";

/// Longest `return_to` path kept, in bytes.
const MAX_RETURN_TO: usize = 512;

/// What signing people in needs: the accounts' store and the providers.
#[derive(Clone)]
pub struct SignInParts {
    /// Accounts, sessions and sign-in attempts.
    pub store: Arc<dyn AccountStore>,
    /// The providers offered, in the order the sign-in page lists them.
    pub providers: Vec<Arc<dyn IdentityProvider>>,
}

/// A provider as the sign-in page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderChoice {
    /// Its id in URLs.
    pub id: String,
    /// Its name on the button.
    pub name: String,
}

/// A sign-in under way: send the browser to `authorize_url` with `secret` in a
/// cookie.
#[derive(Debug)]
pub struct StartedSignIn {
    /// The provider's URL.
    pub authorize_url: String,
    /// The sign-in cookie's value.
    pub secret: OpaqueSecret,
}

/// A completed sign-in: set the session cookie and go to `return_to`.
#[derive(Debug)]
pub struct SignedIn {
    /// The session cookie's value.
    pub secret: OpaqueSecret,
    /// When the session ends.
    pub expires_at: Timestamp,
    /// The path to go to now.
    pub return_to: String,
    /// Whether this sign-in made the account.
    pub new_account: bool,
}

/// A browser with a live session.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    /// Who, as every service sees a caller.
    pub caller: Caller,
    /// Their login name, for the pages.
    pub login: String,
    /// The session's secret, which forms prove they know (see
    /// [`OpaqueSecret::csrf_token`]).
    pub secret: OpaqueSecret,
    /// When they signed in.
    pub signed_in_at: Timestamp,
}

/// What a signed-in person may do from the browser: what a publish key may,
/// and review for a person holding `registry:review`. Never `admin`: a
/// session rides on a cookie, so it carries no power a stolen page could abuse
/// beyond the person's own work.
fn session_scopes(reviewer: bool) -> Scopes {
    let mut scopes = Scopes::from([Scope::Publish]);
    if reviewer {
        scopes.insert(Scope::Review);
    }
    scopes
}

/// `raw` if it is a path on this registry, else the default: a sign-in never
/// sends anyone to another site.
pub fn safe_return_to(raw: Option<&str>) -> String {
    match raw {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && path.len() <= MAX_RETURN_TO
                && !path.contains('\\')
                && path.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            path.to_owned()
        }
        _ => DEFAULT_RETURN_TO.to_owned(),
    }
}

impl Registry {
    /// Lets people sign in through `parts.providers`, keeping accounts in
    /// `parts.store`.
    #[must_use]
    pub fn with_sign_in(mut self, parts: SignInParts) -> Self {
        self.sign_in = Some(parts);
        self
    }

    /// Reads the sessions another process signs people in to (a private
    /// registry's read function shows their pages to them), offering no sign-in
    /// itself.
    #[must_use]
    pub fn with_sessions(self, store: Arc<dyn AccountStore>) -> Self {
        self.with_sign_in(SignInParts {
            store,
            providers: Vec::new(),
        })
    }

    pub(super) fn sign_in_parts(&self) -> Result<&SignInParts, RegistryError> {
        self.sign_in
            .as_ref()
            .filter(|p| !p.providers.is_empty())
            .ok_or_else(|| RegistryError::SignInUnavailable {
                detail: "this registry has no sign-in provider configured; use an API key"
                    .to_owned(),
            })
    }

    /// The providers a person may sign in with (empty when sign-in is off).
    pub fn sign_in_providers(&self) -> Vec<ProviderChoice> {
        self.sign_in
            .iter()
            .flat_map(|p| &p.providers)
            .map(|p| ProviderChoice {
                id: p.id().to_owned(),
                name: p.display_name().to_owned(),
            })
            .collect()
    }

    /// The URL a provider sends the browser back to.
    pub fn sign_in_callback_url(&self, provider: &str) -> String {
        format!("{}/auth/callback/{provider}", self.config.public_url)
    }

    fn provider(&self, id: &str) -> Result<&Arc<dyn IdentityProvider>, RegistryError> {
        let parts = self.sign_in_parts()?;
        parts
            .providers
            .iter()
            .find(|p| p.id() == id)
            .ok_or_else(|| RegistryError::SignInUnavailable {
                detail: format!(
                    "this registry has no sign-in provider '{id}'; it offers {}",
                    parts
                        .providers
                        .iter()
                        .map(|p| p.id())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// Starts signing in with `provider`, returning afterwards to `return_to` (a
    /// path on this registry; anything else means [`DEFAULT_RETURN_TO`]).
    pub async fn start_sign_in(
        &self,
        provider: &str,
        return_to: Option<&str>,
    ) -> Result<StartedSignIn, RegistryError> {
        let chosen = self.provider(provider)?;
        let started = chosen
            .start(&self.sign_in_callback_url(provider))
            .await
            .map_err(sign_in_error)?;
        let secret = OpaqueSecret::generate()?;
        let attempt = LoginAttempt {
            hash: secret.hash(),
            provider: provider.to_owned(),
            state: started.state,
            nonce: started.nonce,
            pkce_verifier: started.pkce_verifier,
            return_to: safe_return_to(return_to),
            expires_at: self.clock.now().plus(LOGIN_ATTEMPT_LIFETIME),
        };
        self.sign_in_parts()?
            .store
            .insert_login_attempt(&attempt)
            .await?;
        Ok(StartedSignIn {
            authorize_url: started.authorize_url,
            secret,
        })
    }

    /// Completes a sign-in at `provider`'s callback. `cookie` is the sign-in
    /// cookie the browser brought back (if any); `state` and `code` are the
    /// callback's parameters.
    pub async fn finish_sign_in(
        &self,
        provider: &str,
        cookie: Option<&str>,
        state: &str,
        code: &str,
    ) -> Result<SignedIn, RegistryError> {
        let chosen = self.provider(provider)?;
        let parts = self.sign_in_parts()?;
        let refused = |code: &'static str, detail: &str| RegistryError::SignInRefused {
            code,
            detail: detail.to_owned(),
        };
        let secret = cookie.and_then(OpaqueSecret::from_presented).ok_or_else(|| {
            refused(
                "sign_in_not_started",
                "this browser did not start a sign-in here (or its cookies are off); sign in again",
            )
        })?;
        // Taken before anything is checked: whatever happens next, this attempt
        // (and so this code and state) cannot be tried again.
        let attempt = parts
            .store
            .take_login_attempt(&secret.hash())
            .await?
            .ok_or_else(|| {
                refused(
                    "sign_in_not_started",
                    "this sign-in was already used or never started here; sign in again",
                )
            })?;
        if attempt.expires_at <= self.clock.now() {
            return Err(refused(
                "sign_in_expired",
                "this sign-in took too long; sign in again",
            ));
        }
        if attempt.provider != provider {
            return Err(refused(
                "sign_in_state_mismatch",
                "the sign-in came back from another provider than it went to; sign in again",
            ));
        }
        if !bool::from(attempt.state.as_bytes().ct_eq(state.as_bytes())) {
            return Err(refused(
                "sign_in_state_mismatch",
                "the sign-in's state does not match the one this browser sent; sign in again",
            ));
        }
        let verified = chosen
            .finish(code, &self.sign_in_callback_url(provider), &attempt)
            .await
            .map_err(sign_in_error)?;
        let login = clean_login(&verified.login);
        let now = self.clock.now();
        let (account, new_account) = self
            .account_for(parts, verified.identity, login, verified.email, now)
            .await?;
        let secret = OpaqueSecret::generate()?;
        let session = SessionRecord {
            id: SessionId::generate()?,
            hash: secret.hash(),
            principal: account.principal,
            login: account.login,
            created_at: now,
            expires_at: now.plus(SESSION_LIFETIME),
        };
        parts.store.insert_session(&session).await?;
        tracing::info!(session_id = %session.id, principal = %session.principal, new_account, "signed in");
        Ok(SignedIn {
            secret,
            expires_at: session.expires_at,
            return_to: attempt.return_to,
            new_account,
        })
    }

    /// The account linked to `identity`, its login brought up to date; or a new
    /// one with a new user principal. Two first sign-ins racing make one account.
    async fn account_for(
        &self,
        parts: &SignInParts,
        identity: crate::account::Identity,
        login: String,
        email: Option<EmailAddress>,
        now: Timestamp,
    ) -> Result<(Account, bool), RegistryError> {
        if let Some(mut account) = parts.store.account(&identity).await? {
            // Every sign-in is recorded: the login name and address may have
            // changed at the provider, and the time says when the account was
            // last used.
            parts
                .store
                .record_sign_in(&identity, &login, email.as_ref(), now)
                .await?;
            account.login = login;
            account.email = email;
            account.signed_in_at = now;
            return Ok((account, false));
        }
        let principal = Principal {
            id: PrincipalId::generate()?,
            name: login.clone(),
            kind: PrincipalKind::User,
            created_at: now,
        };
        let account = Account {
            identity: identity.clone(),
            principal: principal.id.clone(),
            login,
            email,
            created_at: now,
            signed_in_at: now,
        };
        match parts.store.create_account(&account, &principal).await {
            Ok(()) => Ok((account, true)),
            Err(StorageError::Conflict(Conflict::AlreadyExists)) => {
                let winner = parts.store.account(&identity).await?.ok_or_else(|| {
                    RegistryError::Storage(StorageError::Conflict(Conflict::Missing))
                })?;
                Ok((winner, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The browser behind session cookie `cookie`, if it is a live session.
    pub async fn session_caller(
        &self,
        cookie: &str,
    ) -> Result<Option<SessionCaller>, RegistryError> {
        let (Some(parts), Some(secret)) =
            (self.sign_in.as_ref(), OpaqueSecret::from_presented(cookie))
        else {
            return Ok(None);
        };
        let Some(session) = parts.store.session(&secret.hash()).await? else {
            return Ok(None);
        };
        if !session.hash.matches(&secret.hash()) || session.expires_at <= self.clock.now() {
            return Ok(None);
        }
        // Read on every request, so a revoked grant ends at once, not at the
        // session's end.
        let reviewer = match &self.orgs {
            Some(stores) => stores
                .orgs
                .permissions(&session.principal)
                .await?
                .contains(&Permission::RegistryReview),
            None => false,
        };
        Ok(Some(SessionCaller {
            caller: Caller {
                principal: session.principal,
                credential: Credential::Session(session.id),
                scopes: session_scopes(reviewer),
                plugins: None,
                request: None,
            },
            login: session.login,
            secret,
            signed_in_at: session.created_at,
        }))
    }

    /// Ends the session behind `session`.
    pub async fn sign_out(&self, session: &SessionCaller) -> Result<(), RegistryError> {
        let parts = self.sign_in_parts()?;
        parts.store.delete_session(&session.secret.hash()).await?;
        Ok(())
    }

    /// Ends every session of the person behind `session`, on every device;
    /// returns how many ended.
    pub async fn sign_out_everywhere(
        &self,
        session: &SessionCaller,
    ) -> Result<usize, RegistryError> {
        let parts = self.sign_in_parts()?;
        Ok(parts
            .store
            .delete_sessions_of(&session.caller.principal)
            .await?)
    }
}

fn sign_in_error(error: SignInError) -> RegistryError {
    match error {
        SignInError::Refused { code, detail } => RegistryError::SignInRefused { code, detail },
        SignInError::Unavailable(detail) => RegistryError::SignInProviderFailed { detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_this_registry_are_returned_to() {
        assert_eq!(safe_return_to(Some("/account/keys")), "/account/keys");
        assert_eq!(safe_return_to(Some("/search?q=a")), "/search?q=a");
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "account",
            "/a b",
            "",
        ] {
            assert_eq!(safe_return_to(Some(bad)), DEFAULT_RETURN_TO, "{bad}");
        }
        assert_eq!(safe_return_to(None), DEFAULT_RETURN_TO);
        assert_eq!(
            safe_return_to(Some(&format!("/{}", "a".repeat(600)))),
            DEFAULT_RETURN_TO
        );
    }
}
