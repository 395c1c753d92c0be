//! Signing the CLI in from a terminal (`openworkflow auth login`), as RFC 8628's
//! device authorization grant does: the CLI asks for a device code and a user
//! code, the person confirms the user code on a page of this registry while
//! signed in, and the CLI, polling with its device code, collects a new key of
//! that person's, once.

use super::Registry;
use super::keys::{CreatedKey, NewKey};
use crate::account::{
    DEVICE_GRANT_LIFETIME, DEVICE_POLL_INTERVAL_SECS, DeviceGrant, DeviceGrantState, OpaqueSecret,
    UserCode,
};
use crate::auth::{Caller, Credential, Scope, Scopes};
use crate::error::RegistryError;
use crate::registry::SessionCaller;
use crate::request::RequestId;
use crate::store::{Conflict, StorageError};

/// The name a key from a device sign-in gets when the CLI names none.
pub const DEFAULT_DEVICE_KEY_NAME: &str = "openworkflow CLI";

/// Longest key name a device sign-in may ask for, in characters.
const MAX_DEVICE_KEY_NAME: usize = 100;

/// Tries at a free user code before giving up (a collision among 20^8 codes is
/// already rare).
const USER_CODE_TRIES: usize = 4;

/// A device sign-in begun: what the CLI shows and keeps.
#[derive(Debug)]
pub struct DeviceStart {
    /// The secret the CLI polls with.
    pub device_code: OpaqueSecret,
    /// The code the person confirms.
    pub user_code: UserCode,
    /// The page to confirm it on.
    pub verification_uri: String,
    /// That page with the code filled in.
    pub verification_uri_complete: String,
    /// Seconds until the codes lapse.
    pub expires_in: u64,
    /// Seconds to wait between polls.
    pub interval: u32,
}

impl Registry {
    /// The page people confirm device sign-ins on.
    pub fn device_page_url(&self) -> String {
        format!("{}/device", self.config.public_url)
    }

    /// Begins a device sign-in whose key will be called `key_name`.
    pub async fn start_device_sign_in(
        &self,
        key_name: Option<&str>,
    ) -> Result<DeviceStart, RegistryError> {
        let parts = self.sign_in_parts()?;
        let key_name = key_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_DEVICE_KEY_NAME);
        if key_name.chars().count() > MAX_DEVICE_KEY_NAME || key_name.chars().any(char::is_control)
        {
            return Err(RegistryError::invalid_field(
                "key_name",
                format!("a key name is at most {MAX_DEVICE_KEY_NAME} printable characters"),
            ));
        }
        let now = self.clock.now();
        for _ in 0..USER_CODE_TRIES {
            let device_code = OpaqueSecret::generate()?;
            let grant = DeviceGrant {
                hash: device_code.hash(),
                user_code: UserCode::generate()?,
                key_name: key_name.to_owned(),
                created_at: now,
                expires_at: now.plus(DEVICE_GRANT_LIFETIME),
                state: DeviceGrantState::Pending,
                last_polled_at: None,
            };
            match parts.store.insert_device_grant(&grant).await {
                Ok(()) => {
                    let page = self.device_page_url();
                    let query = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("user_code", &grant.user_code.to_string())
                        .finish();
                    return Ok(DeviceStart {
                        device_code,
                        verification_uri_complete: format!("{page}?{query}"),
                        verification_uri: page,
                        user_code: grant.user_code,
                        expires_in: DEVICE_GRANT_LIFETIME.whole_seconds().unsigned_abs(),
                        interval: DEVICE_POLL_INTERVAL_SECS,
                    });
                }
                Err(StorageError::Conflict(Conflict::AlreadyExists)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::Storage(StorageError::Conflict(
            Conflict::AlreadyExists,
        )))
    }

    /// The pending device sign-in a person is asked to confirm, by its user code.
    pub async fn pending_device_grant(&self, raw: &str) -> Result<DeviceGrant, RegistryError> {
        let parts = self.sign_in_parts()?;
        let unknown = || RegistryError::DeviceFlow {
            code: "user_code_unknown",
            detail: "no device is waiting for that code (it may have lapsed after ten minutes); \
                     run `openworkflow auth login` again"
                .to_owned(),
        };
        let code = UserCode::parse(raw).ok_or_else(unknown)?;
        let grant = parts
            .store
            .device_grant_by_user_code(&code)
            .await?
            .ok_or_else(unknown)?;
        if grant.state != DeviceGrantState::Pending || grant.expires_at <= self.clock.now() {
            return Err(unknown());
        }
        Ok(grant)
    }

    /// Approves (or refuses) the device sign-in with user code `raw` as the
    /// signed-in `session`; returns the grant as it was.
    pub async fn decide_device_grant(
        &self,
        session: &SessionCaller,
        raw: &str,
        approve: bool,
    ) -> Result<DeviceGrant, RegistryError> {
        let grant = self.pending_device_grant(raw).await?;
        let to = if approve {
            let Credential::Session(session_id) = &session.caller.credential else {
                return Err(RegistryError::Forbidden {
                    detail: "approve a device from a signed-in browser".to_owned(),
                });
            };
            DeviceGrantState::Approved {
                principal: session.caller.principal.clone(),
                session: session_id.clone(),
            }
        } else {
            DeviceGrantState::Denied
        };
        match self
            .sign_in_parts()?
            .store
            .change_device_grant(&grant.hash, &DeviceGrantState::Pending, &to)
            .await
        {
            Ok(()) => Ok(grant),
            Err(StorageError::Conflict(Conflict::Missing)) => Err(RegistryError::DeviceFlow {
                code: "user_code_unknown",
                detail: "that device sign-in was already decided".to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The CLI's poll (in `request`): its key once the person approved, else why
    /// not yet.
    pub async fn poll_device_grant(
        &self,
        device_code: &str,
        request: Option<RequestId>,
    ) -> Result<CreatedKey, RegistryError> {
        let parts = self.sign_in_parts()?;
        let flow = |code: &'static str, detail: &str| RegistryError::DeviceFlow {
            code,
            detail: detail.to_owned(),
        };
        let invalid = || {
            flow(
                "invalid_grant",
                "that device code is unknown or was used; run `openworkflow auth login` again",
            )
        };
        let secret = OpaqueSecret::from_presented(device_code).ok_or_else(invalid)?;
        let grant = parts
            .store
            .device_grant(&secret.hash())
            .await?
            .ok_or_else(invalid)?;
        let now = self.clock.now();
        if grant.expires_at <= now && grant.state != DeviceGrantState::Redeemed {
            return Err(flow(
                "expired_token",
                "nobody approved this sign-in within ten minutes; run `openworkflow auth login` again",
            ));
        }
        let since = now.plus(-time::Duration::seconds(i64::from(
            DEVICE_POLL_INTERVAL_SECS,
        )));
        if !parts
            .store
            .record_device_poll(&grant.hash, now, since)
            .await?
        {
            return Err(flow(
                "slow_down",
                "polling too fast: wait the interval, plus five seconds, between polls",
            ));
        }
        match &grant.state {
            DeviceGrantState::Pending => Err(flow(
                "authorization_pending",
                "waiting for the person to confirm the code in a browser",
            )),
            DeviceGrantState::Denied => {
                Err(flow("access_denied", "the person refused this sign-in"))
            }
            DeviceGrantState::Redeemed => Err(invalid()),
            DeviceGrantState::Approved { principal, session } => {
                // Redeemed before the key exists: of two racing polls, one gets a key.
                match parts
                    .store
                    .change_device_grant(&grant.hash, &grant.state, &DeviceGrantState::Redeemed)
                    .await
                {
                    Ok(()) => {}
                    Err(StorageError::Conflict(Conflict::Missing)) => return Err(invalid()),
                    Err(e) => return Err(e.into()),
                }
                let approver = Caller {
                    principal: principal.clone(),
                    credential: Credential::Session(session.clone()),
                    scopes: Scopes::from([Scope::Publish]),
                    plugins: None,
                    request,
                };
                self.create_key(
                    &approver,
                    NewKey {
                        name: grant.key_name.clone(),
                        scopes: Scopes::from([Scope::Publish]),
                        principal: None,
                        new_principal: None,
                        expires_in_days: None,
                        plugins: None,
                    },
                )
                .await
            }
        }
    }
}
