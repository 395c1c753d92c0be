//! Orgs, memberships and permissions: the gates of the org catalog (the spec's
//! `org_context`) and the platform admin's operations on them.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use super::{Registry, require_scope};
use crate::auth::{Caller, PrincipalId, Scope};
use crate::catalog::CatalogScope;
use crate::error::RegistryError;
use crate::org::{MAX_ORG_NAME, Membership, Org, OrgId, Permission};
use crate::store::{Conflict, OrgCatalogStore, OrgStore, StorageError};
use crate::timestamp::Timestamp;

/// The stores behind the org catalog.
#[derive(Clone)]
pub struct OrgStores {
    /// Orgs, members and permissions.
    pub orgs: Arc<dyn OrgStore>,
    /// Catalog rows and org enablements.
    pub catalog: Arc<dyn OrgCatalogStore>,
}

/// Proof that a caller may read one org's catalog; only [`Registry::authorize_org_read`]
/// makes one.
#[derive(Debug, Clone)]
pub struct OrgReader {
    pub(super) org: OrgId,
}

impl OrgReader {
    /// The org the caller may read.
    pub fn org(&self) -> &OrgId {
        &self.org
    }
}

/// Proof that a caller may write to one catalog (an org's, or the system one); only
/// [`Registry::authorize_catalog_write`] makes one, so a handler checks the gate
/// before it reads a request body.
#[derive(Debug, Clone)]
pub struct CatalogWriter {
    pub(super) scope: CatalogScope,
    pub(super) principal: PrincipalId,
}

impl CatalogWriter {
    /// The catalog the caller may write to.
    pub fn scope(&self) -> &CatalogScope {
        &self.scope
    }
}

/// What an org's page may do for its caller: read, perhaps write, and the org's
/// name to show; only [`Registry::authorize_org_page`] makes one.
#[derive(Debug, Clone)]
pub struct OrgPageAccess {
    /// The read gate, passed.
    pub reader: OrgReader,
    /// The write gate, when it passes too.
    pub writer: Option<CatalogWriter>,
    /// The org.
    pub org: OrgInfo,
}

/// An org as shown to admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrgInfo {
    /// Its id.
    #[schema(value_type = String, example = "acme")]
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// When it was created.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

impl From<Org> for OrgInfo {
    fn from(org: Org) -> Self {
        Self {
            id: org.id,
            name: org.name,
            created_at: org.created_at,
        }
    }
}

/// A membership as shown to admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MemberInfo {
    /// The member.
    #[schema(value_type = String)]
    pub principal: PrincipalId,
    /// When it was added.
    #[schema(value_type = String)]
    pub added_at: Timestamp,
}

impl Registry {
    /// Attaches the org catalog's stores.
    #[must_use]
    pub fn with_org_catalog(mut self, stores: OrgStores) -> Self {
        self.orgs = Some(stores);
        self
    }

    pub(super) fn org_stores(&self) -> Result<&OrgStores, RegistryError> {
        self.orgs
            .as_ref()
            .ok_or(RegistryError::OrgCatalogUnavailable)
    }

    /// The spec's `org_context` for reads: a key that may read, the
    /// `cadence:org:plugins:read` (or `write`) permission, then membership of an
    /// org that exists.
    pub async fn authorize_org_read(
        &self,
        caller: Option<&Caller>,
        org: &str,
    ) -> Result<OrgReader, RegistryError> {
        let caller = require_scope(caller, Scope::Read)?;
        let org = self
            .org_context(caller, org, Permission::OrgPluginsRead)
            .await?;
        Ok(OrgReader { org })
    }

    /// The gate of an org's catalog writes: a `publish` key, the
    /// `cadence:org:plugins:write` permission, and membership.
    pub async fn authorize_org_write(
        &self,
        caller: Option<&Caller>,
        org: &str,
    ) -> Result<CatalogWriter, RegistryError> {
        let caller = require_scope(caller, Scope::Publish)?;
        let org = self
            .org_context(caller, org, Permission::OrgPluginsWrite)
            .await?;
        Ok(CatalogWriter {
            scope: CatalogScope::Org(org),
            principal: caller.principal.clone(),
        })
    }

    /// The read gate and, from the same look at the caller's permissions and
    /// membership, whether the write gate would pass too: what a page needs to
    /// decide whether it shows its buttons.
    pub async fn authorize_org_page(
        &self,
        caller: Option<&Caller>,
        org: &str,
    ) -> Result<OrgPageAccess, RegistryError> {
        let caller = require_scope(caller, Scope::Read)?;
        let held = self
            .org_stores()?
            .orgs
            .permissions(&caller.principal)
            .await?;
        let org = self
            .org_context_with(caller, org, Permission::OrgPluginsRead, &held)
            .await?;
        // The write gate's own rules, on what the read gate already read (it
        // found the caller a member of this org).
        let writer = (caller.can(Scope::Publish) && grants(&held, Permission::OrgPluginsWrite))
            .then(|| CatalogWriter {
                scope: CatalogScope::Org(org.id.clone()),
                principal: caller.principal.clone(),
            });
        Ok(OrgPageAccess {
            reader: OrgReader {
                org: org.id.clone(),
            },
            writer,
            org: org.into(),
        })
    }

    /// The gate of system catalog writes: a `publish` key of a `sys_admin`.
    pub async fn authorize_system_write(
        &self,
        caller: Option<&Caller>,
    ) -> Result<CatalogWriter, RegistryError> {
        let caller = require_scope(caller, Scope::Publish)?;
        self.require_permission(caller, Permission::SysAdmin)
            .await?;
        Ok(CatalogWriter {
            scope: CatalogScope::System,
            principal: caller.principal.clone(),
        })
    }

    /// Permission first, then the org's existence, then membership, as the spec
    /// orders them. `write` implies `read`. A malformed id names no org (404).
    async fn org_context(
        &self,
        caller: &Caller,
        org: &str,
        needed: Permission,
    ) -> Result<OrgId, RegistryError> {
        let held = self
            .org_stores()?
            .orgs
            .permissions(&caller.principal)
            .await?;
        Ok(self.org_context_with(caller, org, needed, &held).await?.id)
    }

    /// [`Self::org_context`] with the caller's permissions already read.
    pub(super) async fn org_context_with(
        &self,
        caller: &Caller,
        org: &str,
        needed: Permission,
        held: &BTreeSet<Permission>,
    ) -> Result<Org, RegistryError> {
        let stores = self.org_stores()?;
        if !grants(held, needed) {
            return Err(RegistryError::MissingPermission { permission: needed });
        }
        let org = self.existing_org(org).await?;
        if !stores.orgs.is_member(&org.id, &caller.principal).await? {
            return Err(RegistryError::NotOrgMember {
                org: org.id.to_string(),
            });
        }
        Ok(org)
    }

    async fn require_permission(
        &self,
        caller: &Caller,
        needed: Permission,
    ) -> Result<(), RegistryError> {
        let held = self
            .org_stores()?
            .orgs
            .permissions(&caller.principal)
            .await?;
        if held.contains(&needed) {
            Ok(())
        } else {
            Err(RegistryError::MissingPermission { permission: needed })
        }
    }

    /// Platform administration needs an `admin` key of a `sys_admin` principal.
    pub(super) async fn require_platform_admin(
        &self,
        caller: Option<&Caller>,
    ) -> Result<(), RegistryError> {
        let caller = require_scope(caller, Scope::Admin)?;
        self.require_permission(caller, Permission::SysAdmin).await
    }

    /// Creates an org (platform admins).
    pub async fn create_org(
        &self,
        caller: Option<&Caller>,
        id: &str,
        name: &str,
    ) -> Result<OrgInfo, RegistryError> {
        self.require_platform_admin(caller).await?;
        let mut problems = Vec::new();
        let id = OrgId::parse(id)
            .map_err(|m| problems.push(field_error("id", m)))
            .ok();
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_ORG_NAME
            || name.chars().any(char::is_control)
        {
            problems.push(field_error(
                "name",
                format!("must be 1 to {MAX_ORG_NAME} printable characters"),
            ));
        }
        let Some(id) = id.filter(|_| problems.is_empty()) else {
            return Err(RegistryError::Invalid { problems });
        };
        let org = Org {
            id: id.clone(),
            name: name.to_owned(),
            created_at: self.clock.now(),
            review_required: false,
            review_auto_approve: crate::review::AutoApproval::default(),
        };
        match self.org_stores()?.orgs.create_org(&org).await {
            Err(StorageError::Conflict(Conflict::AlreadyExists)) => Err(RegistryError::OrgExists {
                org: id.to_string(),
            }),
            Err(e) => Err(e.into()),
            Ok(()) => {
                tracing::info!(org = %id, "org created");
                Ok(org.into())
            }
        }
    }

    /// Every org (platform admins).
    pub async fn list_orgs(&self, caller: Option<&Caller>) -> Result<Vec<OrgInfo>, RegistryError> {
        self.require_platform_admin(caller).await?;
        let orgs = self.org_stores()?.orgs.list_orgs().await?;
        Ok(orgs.into_iter().map(OrgInfo::from).collect())
    }

    /// The orgs `caller` belongs to, in id order (none on a registry without an
    /// org catalog): what their account page links to.
    pub async fn orgs_of_caller(&self, caller: &Caller) -> Result<Vec<OrgInfo>, RegistryError> {
        let Some(stores) = self.orgs.as_ref() else {
            return Ok(Vec::new());
        };
        let orgs = stores.orgs.orgs_of(&caller.principal).await?;
        Ok(orgs.into_iter().map(OrgInfo::from).collect())
    }

    /// The org named by `raw`, which must exist.
    pub(super) async fn existing_org(&self, raw: &str) -> Result<Org, RegistryError> {
        let not_found = || RegistryError::OrgNotFound {
            org: raw.to_owned(),
        };
        let id = OrgId::parse(raw).map_err(|_| not_found())?;
        self.org_stores()?
            .orgs
            .org(&id)
            .await?
            .ok_or_else(not_found)
    }

    /// Adds a principal to an org; adding a member again changes nothing.
    pub async fn add_org_member(
        &self,
        caller: Option<&Caller>,
        org: &str,
        principal: &PrincipalId,
    ) -> Result<(), RegistryError> {
        self.require_platform_admin(caller).await?;
        let org = self.existing_org(org).await?.id;
        self.principal_named(principal.as_str()).await?;
        let membership = Membership {
            org: org.clone(),
            principal: principal.clone(),
            added_at: self.clock.now(),
        };
        self.org_stores()?.orgs.add_member(&membership).await?;
        tracing::info!(%org, %principal, "org member added");
        Ok(())
    }

    /// Removes a principal from an org.
    pub async fn remove_org_member(
        &self,
        caller: Option<&Caller>,
        org: &str,
        principal: &PrincipalId,
    ) -> Result<(), RegistryError> {
        self.require_platform_admin(caller).await?;
        let org = self.existing_org(org).await?.id;
        let not_member = || RegistryError::MemberNotFound {
            org: org.to_string(),
            principal: principal.to_string(),
        };
        // An id no principal could have is no member, and never reaches the store.
        PrincipalId::parse(principal.as_str()).ok_or_else(not_member)?;
        let removed = self.org_stores()?.orgs.remove_member(&org, principal).await;
        missing_as(removed, not_member)?;
        tracing::info!(%org, %principal, "org member removed");
        Ok(())
    }

    /// An org's members (platform admins).
    pub async fn org_members(
        &self,
        caller: Option<&Caller>,
        org: &str,
    ) -> Result<Vec<MemberInfo>, RegistryError> {
        self.require_platform_admin(caller).await?;
        let org = self.existing_org(org).await?.id;
        let members = self.org_stores()?.orgs.members(&org).await?;
        Ok(members
            .into_iter()
            .map(|m| MemberInfo {
                principal: m.principal,
                added_at: m.added_at,
            })
            .collect())
    }

    /// Grants a permission to a principal; granting it again changes nothing.
    pub async fn grant_permission(
        &self,
        caller: Option<&Caller>,
        principal: &PrincipalId,
        permission: &str,
    ) -> Result<(), RegistryError> {
        self.require_platform_admin(caller).await?;
        let permission = parse_permission(permission)?;
        self.principal_named(principal.as_str()).await?;
        self.org_stores()?
            .orgs
            .grant_permission(principal, permission)
            .await?;
        tracing::info!(%principal, %permission, "permission granted");
        Ok(())
    }

    /// Revokes a permission from a principal.
    pub async fn revoke_permission(
        &self,
        caller: Option<&Caller>,
        principal: &PrincipalId,
        permission: &str,
    ) -> Result<(), RegistryError> {
        self.require_platform_admin(caller).await?;
        let permission = parse_permission(permission)?;
        let not_held = || RegistryError::PermissionNotHeld {
            principal: principal.to_string(),
            permission,
        };
        PrincipalId::parse(principal.as_str()).ok_or_else(not_held)?;
        let revoked = self
            .org_stores()?
            .orgs
            .revoke_permission(principal, permission)
            .await;
        missing_as(revoked, not_held)?;
        tracing::info!(%principal, %permission, "permission revoked");
        Ok(())
    }

    /// A principal's permissions: platform admins may see anyone's, others their own.
    pub async fn principal_permissions(
        &self,
        caller: Option<&Caller>,
        principal: &PrincipalId,
    ) -> Result<BTreeSet<Permission>, RegistryError> {
        let who = require_scope(caller, Scope::Read)?;
        if who.principal != *principal {
            self.require_platform_admin(caller).await?;
            self.principal_named(principal.as_str()).await?;
        }
        Ok(self.org_stores()?.orgs.permissions(principal).await?)
    }

    /// Makes the first admin a platform admin, so a fresh registry can create orgs.
    pub(super) async fn grant_bootstrap_sys_admin(
        &self,
        principal: &PrincipalId,
    ) -> Result<(), RegistryError> {
        if let Some(stores) = &self.orgs {
            stores
                .orgs
                .grant_permission(principal, Permission::SysAdmin)
                .await?;
        }
        Ok(())
    }
}

/// A store result with "nothing there to remove" answered as `absent`.
fn missing_as(
    result: Result<(), StorageError>,
    absent: impl FnOnce() -> RegistryError,
) -> Result<(), RegistryError> {
    match result {
        Err(StorageError::Conflict(Conflict::Missing)) => Err(absent()),
        other => Ok(other?),
    }
}

fn parse_permission(raw: &str) -> Result<Permission, RegistryError> {
    Permission::parse(raw).map_err(|detail| RegistryError::InvalidParameter {
        name: "permission",
        detail,
    })
}

fn field_error(
    field: impl Into<String>,
    message: impl Into<String>,
) -> crate::manifest::FieldError {
    crate::manifest::FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Whether the permissions `held` grant `needed`: the write permission grants
/// reading too.
pub(super) fn grants(held: &BTreeSet<Permission>, needed: Permission) -> bool {
    held.contains(&needed)
        || (needed == Permission::OrgPluginsRead
            && (held.contains(&Permission::OrgPluginsWrite)
                || held.contains(&Permission::OrgPluginsReview)))
}
