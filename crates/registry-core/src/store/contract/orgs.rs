//! The contract of the org ports ([`OrgStore`], [`OrgCatalogStore`]), run against
//! SQLite in `registry-sqlite` and DynamoDB Local in `registry-aws`.

use std::sync::Arc;

use super::{at, conflict, exactly_one_wins};
use crate::artifact::{ArtifactKey, StoredArtifact, ZIP_CONTENT_TYPE};
use crate::auth::PrincipalId;
use crate::catalog::{CatalogPluginId, CatalogRow, CatalogScope, OrgChoice};
use crate::checksum::Sha256Digest;
use crate::org::{Membership, Org, OrgId, Permission};
use crate::slug::Slug;
use crate::store::{Conflict, OrgCatalogStore, OrgStore};
use crate::version::PluginVersion;

/// A catalog row for `pid@version` in `scope`, as an upload would build it.
pub fn sample_catalog_row(scope: &CatalogScope, pid: &str, version: &str) -> CatalogRow {
    let pid = Slug::parse(pid).expect("pid");
    let version = PluginVersion::parse(version).expect("version");
    let sha256 = Sha256Digest::of(format!("{scope}/{pid}@{version}").as_bytes());
    CatalogRow {
        plugin_id: CatalogPluginId::generate().expect("entropy"),
        scope: scope.clone(),
        artifact: StoredArtifact {
            key: ArtifactKey::catalog_bundle(scope, &pid, &version, &sha256),
            sha256,
            size: 1234,
            content_type: ZIP_CONTENT_TYPE.into(),
        },
        name: format!("{pid} plugin"),
        description: "does things".into(),
        tags: vec!["search".into()],
        capabilities: vec!["web_search".into()],
        settings_schema: Some(serde_json::json!({
            "type": "object",
            "properties": {"api_key": {"type": "string", "writeOnly": true}}
        })),
        enabled: true,
        uploaded_by: PrincipalId::from_stored("prn_uploader"),
        uploaded_at: at("2026-01-01T00:00:00Z"),
        review: None,
        updated_at: at("2026-01-01T00:00:00Z"),
        pid,
        version,
    }
}

/// Runs every org-store check; ids are prefixed with `prefix`.
pub async fn org_store_contract(store: Arc<dyn OrgStore>, prefix: &str) {
    let org = Org {
        id: OrgId::parse(&format!("{prefix}-acme")).unwrap(),
        name: "Acme".into(),
        created_at: at("2026-01-01T00:00:00Z"),
        review_required: false,
        review_auto_approve: crate::review::AutoApproval::default(),
    };
    exactly_one_wins(
        |_| {
            let (store, org) = (Arc::clone(&store), org.clone());
            async move { store.create_org(&org).await }
        },
        Conflict::AlreadyExists,
        "an org id is created once",
    )
    .await;
    assert_eq!(store.org(&org.id).await.unwrap(), Some(org.clone()));
    let other = OrgId::parse(&format!("{prefix}-other")).unwrap();
    assert_eq!(store.org(&other).await.unwrap(), None);
    let before = Org {
        id: OrgId::parse(&format!("{prefix}-aardvark")).unwrap(),
        name: "A".into(),
        created_at: org.created_at,
        review_required: false,
        review_auto_approve: crate::review::AutoApproval::default(),
    };
    store.create_org(&before).await.unwrap();
    let listed: Vec<_> = store
        .list_orgs()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.id.as_str().starts_with(prefix))
        .collect();
    assert_eq!(
        listed,
        vec![org.clone(), before.clone()]
            .into_iter()
            .rev()
            .collect::<Vec<_>>(),
        "orgs are listed in id order"
    );

    // The review policy changes its fields alone.
    let rules = crate::review::AutoApproval {
        publishers: vec![PrincipalId::from_stored(format!("prn_{prefix}_ci"))],
        trusted_publishing: false,
        patch_releases: true,
    };
    store
        .set_org_review_policy(&org.id, true, &rules)
        .await
        .unwrap();
    assert_eq!(
        store.org(&org.id).await.unwrap(),
        Some(Org {
            review_required: true,
            review_auto_approve: rules.clone(),
            ..org.clone()
        })
    );
    store
        .set_org_review_policy(&org.id, false, &crate::review::AutoApproval::default())
        .await
        .unwrap();
    assert_eq!(store.org(&org.id).await.unwrap(), Some(org.clone()));
    assert_eq!(
        conflict(store.set_org_review_policy(&other, true, &rules).await),
        Conflict::Missing
    );

    let alice = PrincipalId::from_stored(format!("prn_{prefix}_alice"));
    let bob = PrincipalId::from_stored(format!("prn_{prefix}_bob"));
    for principal in [&bob, &alice, &alice] {
        let membership = Membership {
            org: org.id.clone(),
            principal: principal.clone(),
            added_at: at("2026-01-02T00:00:00Z"),
        };
        store
            .add_member(&membership)
            .await
            .expect("adding a member is idempotent");
    }
    assert!(store.is_member(&org.id, &alice).await.unwrap());
    assert!(
        !store.is_member(&other, &alice).await.unwrap(),
        "membership is per org"
    );
    assert!(!store.is_member(&before.id, &bob).await.unwrap());
    let members: Vec<_> = store
        .members(&org.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.principal)
        .collect();
    assert_eq!(
        members,
        vec![alice.clone(), bob.clone()],
        "members in principal order, once each"
    );
    store.remove_member(&org.id, &bob).await.unwrap();
    assert!(!store.is_member(&org.id, &bob).await.unwrap());
    assert_eq!(
        conflict(store.remove_member(&org.id, &bob).await),
        Conflict::Missing
    );
    store
        .add_member(&Membership {
            org: before.id.clone(),
            principal: alice.clone(),
            added_at: at("2026-01-03T00:00:00Z"),
        })
        .await
        .unwrap();
    assert_eq!(
        store.orgs_of(&alice).await.unwrap(),
        vec![before.clone(), org.clone()],
        "a principal's orgs, in id order"
    );
    assert_eq!(
        store.orgs_of(&bob).await.unwrap(),
        Vec::<Org>::new(),
        "a removed member belongs to no org"
    );

    assert!(store.permissions(&alice).await.unwrap().is_empty());
    store
        .grant_permission(&alice, Permission::OrgPluginsRead)
        .await
        .unwrap();
    store
        .grant_permission(&alice, Permission::OrgPluginsRead)
        .await
        .expect("granting twice is idempotent");
    store
        .grant_permission(&alice, Permission::SysAdmin)
        .await
        .unwrap();
    assert_eq!(
        store
            .permissions(&alice)
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![Permission::OrgPluginsRead, Permission::SysAdmin]
    );
    assert!(
        store.permissions(&bob).await.unwrap().is_empty(),
        "permissions are per principal"
    );
    store
        .revoke_permission(&alice, Permission::SysAdmin)
        .await
        .unwrap();
    assert_eq!(
        conflict(store.revoke_permission(&alice, Permission::SysAdmin).await),
        Conflict::Missing
    );
    assert_eq!(
        store
            .permissions(&alice)
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![Permission::OrgPluginsRead]
    );
}

/// Runs every org-catalog check; org ids are prefixed with `prefix`.
pub async fn org_catalog_store_contract(store: Arc<dyn OrgCatalogStore>, prefix: &str) {
    held_rows_are_decided_once(Arc::clone(&store), prefix).await;
    let org = OrgId::parse(&format!("{prefix}-acme")).unwrap();
    let scope = CatalogScope::Org(org.clone());
    let first = sample_catalog_row(&scope, "web-search", "1.9.0");
    store.insert_row(&first, &[]).await.unwrap();
    assert_eq!(
        store.row(&first.plugin_id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        conflict(store.insert_row(&first, &[]).await),
        Conflict::AlreadyExists,
        "a plugin id is used once"
    );

    let same_version = sample_catalog_row(&scope, "web-search", "2.0.0");
    exactly_one_wins(
        |_| {
            let store = Arc::clone(&store);
            let mut row = same_version.clone();
            row.plugin_id = CatalogPluginId::generate().unwrap();
            async move { store.insert_row(&row, &[]).await }
        },
        Conflict::VersionExists,
        "a scope holds one row per pid and version",
    )
    .await;
    let stored = store
        .row_by_version(&scope, &same_version.pid, &same_version.version)
        .await
        .unwrap()
        .expect("the winner's row");
    assert_eq!(
        store.row(&stored.plugin_id).await.unwrap().as_ref(),
        Some(&stored),
        "the winner is found by id too"
    );

    let system_twin = sample_catalog_row(&CatalogScope::System, "web-search", "2.0.0");
    store
        .insert_row(&system_twin, &[])
        .await
        .expect("the same pid and version may exist in another scope");
    let newer = sample_catalog_row(&scope, "web-search", "1.10.0");
    let alpha = sample_catalog_row(&scope, "alpha", "0.1.0");
    store.insert_row(&newer, &[]).await.unwrap();
    store.insert_row(&alpha, &[]).await.unwrap();
    let order: Vec<String> = store
        .rows(&scope)
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{}@{}", r.pid, r.version))
        .collect();
    assert_eq!(
        order,
        [
            "alpha@0.1.0",
            "web-search@1.9.0",
            "web-search@1.10.0",
            "web-search@2.0.0"
        ],
        "rows come by pid, then by semver (not text) order"
    );
    let other_org = CatalogScope::Org(OrgId::parse(&format!("{prefix}-other")).unwrap());
    assert!(
        store.rows(&other_org).await.unwrap().is_empty(),
        "rows never leak across scopes"
    );

    let later = at("2026-03-01T00:00:00Z");
    store
        .set_enabled(&first.plugin_id, false, later)
        .await
        .unwrap();
    let disabled = store.row(&first.plugin_id).await.unwrap().unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.updated_at, later);
    assert_eq!(
        CatalogRow {
            enabled: true,
            updated_at: first.updated_at,
            ..disabled
        },
        first,
        "only the enablement changes"
    );
    let unknown = CatalogPluginId::generate().unwrap();
    assert_eq!(
        conflict(store.set_enabled(&unknown, true, later).await),
        Conflict::Missing
    );

    assert!(store.org_enablements(&org).await.unwrap().is_empty());
    store
        .set_org_enablement(&org, &system_twin.plugin_id, true, later)
        .await
        .unwrap();
    let even_later = at("2026-04-01T00:00:00Z");
    store
        .set_org_enablement(&org, &system_twin.plugin_id, false, even_later)
        .await
        .unwrap();
    let choices = store.org_enablements(&org).await.unwrap();
    assert_eq!(
        choices.get(&system_twin.plugin_id),
        Some(&OrgChoice {
            enabled: false,
            at: even_later
        }),
        "the latest choice wins"
    );
    assert_eq!(choices.len(), 1);
    let other_id = OrgId::parse(&format!("{prefix}-other")).unwrap();
    assert!(
        store.org_enablements(&other_id).await.unwrap().is_empty(),
        "choices are per org"
    );
}

/// A row held for review is decided once: approval clears its review, a
/// rejection keeps it, and a second decision (or one on a row never held) is
/// refused without a write.
async fn held_rows_are_decided_once(store: Arc<dyn OrgCatalogStore>, prefix: &str) {
    use crate::review::ReviewState;

    let scope = CatalogScope::Org(OrgId::parse(&format!("{prefix}-held")).unwrap());
    let submitted_at = at("2026-02-01T00:00:00Z");
    let held = |pid: &str| CatalogRow {
        review: Some(ReviewState::Pending {
            submitted_at,
            checks: Vec::new(),
        }),
        ..sample_catalog_row(&scope, pid, "1.0.0")
    };
    let (approved, rejected, live) = (
        held("approve-me"),
        held("reject-me"),
        sample_catalog_row(&scope, "live", "1.0.0"),
    );
    for row in [&approved, &rejected, &live] {
        store.insert_row(row, &[]).await.unwrap();
    }
    assert_eq!(
        store.row(&approved.plugin_id).await.unwrap(),
        Some(approved.clone())
    );
    let decided_at = at("2026-02-02T00:00:00Z");
    store
        .decide_row_review(&approved.plugin_id, None, decided_at, &[])
        .await
        .unwrap();
    assert_eq!(
        store.row(&approved.plugin_id).await.unwrap(),
        Some(CatalogRow {
            review: None,
            updated_at: decided_at,
            ..approved.clone()
        })
    );
    let rejection = ReviewState::Rejected {
        submitted_at,
        decided_by: PrincipalId::from_stored("prn_reviewer"),
        decided_at,
        comment: "no".into(),
    };
    store
        .decide_row_review(&rejected.plugin_id, Some(&rejection), decided_at, &[])
        .await
        .unwrap();
    assert_eq!(
        store
            .row(&rejected.plugin_id)
            .await
            .unwrap()
            .unwrap()
            .review,
        Some(rejection.clone())
    );
    for decided in [&approved, &rejected, &live] {
        assert_eq!(
            conflict(
                store
                    .decide_row_review(&decided.plugin_id, None, decided_at, &[])
                    .await
            ),
            Conflict::RevisionChanged,
            "{} is not waiting",
            decided.pid
        );
    }
    assert_eq!(
        store
            .row(&rejected.plugin_id)
            .await
            .unwrap()
            .unwrap()
            .review,
        Some(rejection),
        "a refused decision writes nothing"
    );
    let unknown = CatalogPluginId::generate().unwrap();
    assert_eq!(
        conflict(
            store
                .decide_row_review(&unknown, None, decided_at, &[])
                .await
        ),
        Conflict::Missing
    );
}
