//! API keys: authenticate, create, list, revoke, and the first-start admin key.

use serde::{Deserialize, Serialize};

use super::Registry;
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::{
    ApiKeyRecord, ApiKeySecret, Caller, Credential, KeyId, PluginLimit, Principal, PrincipalId,
    PrincipalKind, Scope, Scopes, scopes_grant,
};
use crate::error::RegistryError;
use crate::manifest::FieldError;
use crate::slug::Slug;
use crate::store::{Conflict, StorageError};
use crate::timestamp::Timestamp;

/// Longest key or principal name, in characters.
pub const MAX_KEY_NAME: usize = 100;

/// How long a key made by a person (any key but an admin's) lives unless asked.
pub const DEFAULT_KEY_LIFETIME_DAYS: u32 = 90;

/// The longest expiry anyone may ask for (a century); past it, a key that never
/// expires says what is meant, and no date overflows.
pub const MAX_OPERATOR_KEY_LIFETIME_DAYS: u32 = 36_525;

/// How often a key's last use is written: a busy key costs one write an hour.
pub const KEY_USE_PERIOD: time::Duration = time::Duration::hours(1);

/// The longest a key made by a person may live; admins may make keys that never
/// expire (a router's, a migration of keys made before expiry existed).
pub const MAX_KEY_LIFETIME_DAYS: u32 = 365;

/// The most plugins one key may be limited to.
pub const MAX_KEY_PLUGINS: usize = 100;

/// Whether `name` (already trimmed) is 1 to `max` characters, none of them a
/// control character: what every name people choose must be (a key's, a
/// principal's, a team's), since names reach terminals, logs and pages.
pub(crate) fn is_printable_name(name: &str, max: usize) -> bool {
    !name.is_empty() && name.chars().count() <= max && !name.chars().any(char::is_control)
}

/// The plugin limit `raw` asks for, checked: every entry a slug, at least one,
/// at most [`MAX_KEY_PLUGINS`].
fn plugin_limit(raw: Option<&[String]>) -> Result<Option<PluginLimit>, FieldError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let problem = |message: String| FieldError {
        field: "plugins".into(),
        message,
    };
    if raw.is_empty() || raw.len() > MAX_KEY_PLUGINS {
        return Err(problem(format!(
            "list 1 to {MAX_KEY_PLUGINS} plugin slugs, or leave it out for every plugin of the principal"
        )));
    }
    raw.iter()
        .map(|slug| {
            Slug::parse(slug.trim()).map_err(|e| problem(format!("{slug:?} is not a slug: {e}")))
        })
        .collect::<Result<PluginLimit, _>>()
        .map(Some)
}

/// A principal to create together with its first key (admins only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrincipal {
    /// Display name.
    pub name: String,
    /// User, team or org.
    pub kind: PrincipalKind,
}

/// A key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Label ("CI/CD Pipeline").
    pub name: String,
    /// Scopes; at least one.
    pub scopes: Scopes,
    /// An existing principal to attach the key to; default: the caller's.
    pub principal: Option<PrincipalId>,
    /// Or a new principal to create for it.
    pub new_principal: Option<NewPrincipal>,
    /// Days until it expires; `None`: the default for who makes it (never for an
    /// admin or the server's own command, [`DEFAULT_KEY_LIFETIME_DAYS`] otherwise).
    pub expires_in_days: Option<u32>,
    /// The only plugins (slugs, as given) it may act on; `None`: every plugin of
    /// its principal.
    pub plugins: Option<Vec<String>>,
}

/// A created key: the only time its secret is visible.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// What is stored about it.
    pub info: KeyInfo,
    /// The secret; show once, never store.
    pub secret: ApiKeySecret,
}

/// A key as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// Public id.
    #[schema(value_type = String)]
    pub id: KeyId,
    /// Label.
    pub name: String,
    /// Owning principal.
    #[schema(value_type = String)]
    pub principal: PrincipalId,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// When it was created.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When it was revoked, or `null`.
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<Timestamp>,
    /// When it expires, or `null` for a key that never does.
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Timestamp>,
    /// When it was last used, to within an hour, or `null` if it never was.
    #[schema(value_type = Option<String>)]
    pub last_used_at: Option<Timestamp>,
    /// The only plugins it may publish to, deprecate or unpublish, or `null` for
    /// every plugin of its principal.
    #[schema(value_type = Option<Vec<String>>)]
    pub plugins: Option<Vec<String>>,
}

impl From<&ApiKeyRecord> for KeyInfo {
    fn from(r: &ApiKeyRecord) -> Self {
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            principal: r.principal.clone(),
            scopes: r.scopes.iter().copied().collect(),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            plugins: r
                .plugins
                .as_ref()
                .map(|p| p.iter().map(ToString::to_string).collect()),
        }
    }
}

impl Registry {
    /// Resolves a presented secret to a caller; 401 for anything but a live key.
    pub async fn authenticate(&self, presented: &str) -> Result<Caller, RegistryError> {
        let invalid = || RegistryError::Unauthenticated {
            detail: "the API key is not valid (it may have been revoked); create a new one"
                .to_owned(),
        };
        let secret = ApiKeySecret::from_presented(presented).ok_or_else(invalid)?;
        if secret.is_publish_token() {
            return self.authenticate_publish_token(&secret).await;
        }
        let hash = secret.hash();
        let record = self.keys.key_by_hash(&hash).await?.ok_or_else(invalid)?;
        if !record.hash.matches(&hash) || record.revoked_at.is_some() {
            return Err(invalid());
        }
        if let Some(expired_at) = record.expires_at
            && expired_at <= self.clock.now()
        {
            return Err(RegistryError::KeyExpired { expired_at });
        }
        self.record_key_use(&record).await;
        Ok(Caller {
            principal: record.principal,
            credential: Credential::Key(record.id),
            scopes: record.scopes,
            plugins: record.plugins,
            request: None,
        })
    }

    /// Records that `record` is in use, at most once per [`KEY_USE_PERIOD`]. It is
    /// bookkeeping: a failure is logged and the request goes on.
    async fn record_key_use(&self, record: &ApiKeyRecord) {
        let now = self.clock.now();
        let since = now.plus(-KEY_USE_PERIOD);
        if record.last_used_at.is_some_and(|used| used >= since) {
            return;
        }
        if let Err(error) = self.keys.record_key_use(&record.hash, now, since).await {
            tracing::warn!(key_id = %record.id, %error, "could not record the key's use");
        }
    }

    /// Creates a key. Admin keys may create keys for any principal (or a new one);
    /// other keys only for their own principal, with no scope they do not hold.
    pub async fn create_key(
        &self,
        caller: &Caller,
        request: NewKey,
    ) -> Result<CreatedKey, RegistryError> {
        let is_admin = caller.can(Scope::Admin);
        if !is_admin {
            if request.new_principal.is_some()
                || request
                    .principal
                    .as_ref()
                    .is_some_and(|p| *p != caller.principal)
            {
                return Err(RegistryError::Forbidden {
                    detail: "only an admin key may create keys for another principal".to_owned(),
                });
            }
            if let Some(extra) = request
                .scopes
                .iter()
                .find(|s| !scopes_grant(&caller.scopes, **s))
            {
                return Err(RegistryError::Forbidden {
                    detail: format!("this key cannot grant the '{extra}' scope it does not hold"),
                });
            }
        }
        let target = match (&request.principal, &request.new_principal) {
            (Some(_), Some(_)) => {
                return Err(RegistryError::invalid_field(
                    "principal",
                    "give either principal or new_principal, not both",
                ));
            }
            (Some(id), None) => id.clone(),
            (None, Some(_)) => PrincipalId::generate()?,
            (None, None) => caller.principal.clone(),
        };
        let lifetime = match (is_admin, request.expires_in_days) {
            (true, days) => days,
            (false, None) => Some(DEFAULT_KEY_LIFETIME_DAYS),
            (false, Some(days)) if days > MAX_KEY_LIFETIME_DAYS => {
                return Err(RegistryError::invalid_field(
                    "expires_in_days",
                    format!(
                        "a key may live at most {MAX_KEY_LIFETIME_DAYS} days; make a new one when it expires"
                    ),
                ));
            }
            (false, days) => days,
        };
        let created = self.issue_key(request, target, lifetime).await?;
        let scopes: Vec<&str> = created.info.scopes.iter().map(|s| s.as_str()).collect();
        self.record(
            caller,
            AuditSubject::Principal(created.info.principal.clone()),
            AuditAction::KeyCreated,
            AuditDetail {
                note: Some(format!("scopes: {}", scopes.join(", "))),
                ..AuditDetail::key(&created.info.id)
            },
        )
        .await;
        Ok(created)
    }

    /// Creates a key without a calling key: for the server's `create-key` command and
    /// the first-start admin key. Attaches to `request.principal` or creates one.
    pub async fn create_key_locally(
        &self,
        mut request: NewKey,
    ) -> Result<CreatedKey, RegistryError> {
        let target = match &request.principal {
            Some(id) => id.clone(),
            None => {
                if request.new_principal.is_none() {
                    request.new_principal = Some(NewPrincipal {
                        name: request.name.clone(),
                        kind: PrincipalKind::Team,
                    });
                }
                PrincipalId::generate()?
            }
        };
        let lifetime = request.expires_in_days;
        self.issue_key(request, target, lifetime).await
    }

    /// On a registry with no keys at all, creates the first admin key.
    pub async fn bootstrap_admin_key(&self) -> Result<Option<CreatedKey>, RegistryError> {
        if self.keys.any_key_exists().await? {
            return Ok(None);
        }
        let request = NewKey {
            name: "admin".to_owned(),
            scopes: Scopes::from([Scope::Admin]),
            principal: None,
            new_principal: Some(NewPrincipal {
                name: "admin".to_owned(),
                kind: PrincipalKind::User,
            }),
            expires_in_days: None,
            plugins: None,
        };
        let created = self.create_key_locally(request).await?;
        self.grant_bootstrap_sys_admin(&created.info.principal)
            .await?;
        Ok(Some(created))
    }

    /// Stores a key for `principal` that expires after `lifetime` days, if given.
    async fn issue_key(
        &self,
        request: NewKey,
        principal: PrincipalId,
        lifetime: Option<u32>,
    ) -> Result<CreatedKey, RegistryError> {
        let mut problems = Vec::new();
        let name = request.name.trim().to_owned();
        if !is_printable_name(&name, MAX_KEY_NAME) {
            problems.push(FieldError {
                field: "name".into(),
                message: format!("must be 1 to {MAX_KEY_NAME} printable characters"),
            });
        }
        if request.scopes.is_empty() {
            problems.push(FieldError {
                field: "scopes".into(),
                message: "must list at least one of read, publish, router, admin".into(),
            });
        }
        if let Some(new) = &request.new_principal
            && !is_printable_name(new.name.trim(), MAX_KEY_NAME)
        {
            problems.push(FieldError {
                field: "new_principal.name".into(),
                message: format!("must be 1 to {MAX_KEY_NAME} printable characters"),
            });
        }
        if lifetime.is_some_and(|days| !(1..=MAX_OPERATOR_KEY_LIFETIME_DAYS).contains(&days)) {
            problems.push(FieldError {
                field: "expires_in_days".into(),
                message: format!(
                    "must be 1 to {MAX_OPERATOR_KEY_LIFETIME_DAYS} days; leave it out for a key that never expires (admins only)"
                ),
            });
        }
        let plugins = match plugin_limit(request.plugins.as_deref()) {
            Ok(plugins) => plugins,
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        if !problems.is_empty() {
            return Err(RegistryError::Invalid { problems });
        }
        let now = self.clock.now();
        match &request.new_principal {
            Some(new) => {
                let principal = Principal {
                    id: principal.clone(),
                    name: new.name.trim().to_owned(),
                    kind: new.kind,
                    created_at: now,
                };
                self.keys.create_principal(&principal).await?;
            }
            None => {
                if self.keys.principal(&principal).await?.is_none() {
                    return Err(RegistryError::invalid_field(
                        "principal",
                        format!("principal '{principal}' does not exist"),
                    ));
                }
            }
        }
        let secret = ApiKeySecret::generate()?;
        let record = ApiKeyRecord {
            id: KeyId::generate()?,
            hash: secret.hash(),
            principal,
            name,
            scopes: request.scopes,
            created_at: now,
            revoked_at: None,
            expires_at: lifetime.map(|days| now.plus(time::Duration::days(i64::from(days)))),
            last_used_at: None,
            plugins,
        };
        self.keys.insert_key(&record).await?;
        tracing::info!(key_id = %record.id, principal = %record.principal, "API key created");
        Ok(CreatedKey {
            info: KeyInfo::from(&record),
            secret,
        })
    }

    /// Keys the caller may see: all for an admin (optionally one principal's), else
    /// the caller's principal's own.
    pub async fn list_keys(
        &self,
        caller: &Caller,
        principal: Option<&str>,
    ) -> Result<Vec<KeyInfo>, RegistryError> {
        let filter = match (caller.can(Scope::Admin), principal) {
            // An id no principal could have holds no keys.
            (true, Some(p)) => match PrincipalId::parse(p) {
                Some(id) => Some(id),
                None => return Ok(Vec::new()),
            },
            (true, None) => None,
            (false, Some(p)) if p != caller.principal.as_str() => {
                return Err(RegistryError::Forbidden {
                    detail: "only an admin key may list another principal's keys".to_owned(),
                });
            }
            (false, _) => Some(caller.principal.clone()),
        };
        let keys = self.keys.list_keys(filter.as_ref()).await?;
        Ok(keys.iter().map(KeyInfo::from).collect())
    }

    /// Revokes a key: any key for an admin, else only the caller's principal's.
    pub async fn revoke_key(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<KeyInfo, RegistryError> {
        let not_found = || RegistryError::KeyNotFound {
            key_id: key_id.to_owned(),
        };
        let id = KeyId::parse(key_id).ok_or_else(not_found)?;
        let record = self.keys.key(&id).await?.ok_or_else(not_found)?;
        // Another principal's key reads as absent, so ids cannot be probed.
        if !caller.can(Scope::Admin) && record.principal != caller.principal {
            return Err(not_found());
        }
        let at = self.clock.now();
        match self.keys.revoke_key(&id, at).await {
            Ok(()) => {}
            // Already revoked: revoking is idempotent.
            Err(StorageError::Conflict(Conflict::Missing)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(key_id = %id, "API key revoked");
        self.record(
            caller,
            AuditSubject::Principal(record.principal.clone()),
            AuditAction::KeyRevoked,
            AuditDetail::key(&id),
        )
        .await;
        let record = self.keys.key(&id).await?.ok_or_else(not_found)?;
        Ok(KeyInfo::from(&record))
    }
}
