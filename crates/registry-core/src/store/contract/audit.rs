//! The audit port's contract: records are kept whole and never overwritten,
//! read newest first by subject or all together, a page at a time.

use std::sync::Arc;

use super::{RACERS, at, conflict, race, slug};
use crate::audit::{AuditAction, AuditDetail, AuditId, AuditRecord, AuditSubject};
use crate::auth::{KeyId, PrincipalId};
use crate::ownership::Role;
use crate::store::{AuditStore, Conflict};
use crate::version::PluginVersion;

fn record(micros: i64, subject: &AuditSubject, action: AuditAction) -> AuditRecord {
    AuditRecord {
        id: AuditId::generate(micros).expect("entropy"),
        at: at("2026-05-01T10:00:00Z"),
        subject: subject.clone(),
        action,
        actor: PrincipalId::from_stored("prn_actor"),
        credential: None,
        request: None,
        detail: AuditDetail::default(),
    }
}

fn ids(records: &[AuditRecord]) -> Vec<&AuditId> {
    records.iter().map(|r| &r.id).collect()
}

/// Runs every audit-store check against an empty store.
pub async fn audit_store_contract(store: Arc<dyn AuditStore>, prefix: &str) {
    let plugin = AuditSubject::Plugin(slug(&format!("{prefix}-audited")));
    let other = AuditSubject::Plugin(slug(&format!("{prefix}-audited-too")));
    let person = AuditSubject::Principal(PrincipalId::from_stored(format!("prn_{prefix}")));
    assert!(
        store
            .audit_records(None, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "an empty store has no records"
    );

    let base = 1_777_629_600_000_000;
    let mut published = record(base + 1, &plugin, AuditAction::VersionPublished);
    published.credential = Some("key_0123456789abcdef".into());
    published.request = Some("req_0123456789abcdef".into());
    published.detail = AuditDetail {
        version: Some(PluginVersion::parse("1.2.3").expect("version")),
        principal: Some(PrincipalId::from_stored("prn_other")),
        key: Some(KeyId::from_stored("key_fedcba9876543210")),
        role: Some(Role::Maintainer),
        note: Some("a note with \"quotes\", ünïcode and\nlines".into()),
    };
    let written = [
        published.clone(),
        record(base + 2, &person, AuditAction::KeyCreated),
        record(base + 3, &plugin, AuditAction::OwnerInvited),
        record(base + 4, &other, AuditAction::VersionPublished),
        record(base + 5, &plugin, AuditAction::OwnerAdded),
        record(base + 6, &person, AuditAction::KeyRevoked),
    ];
    for r in &written {
        store.append_audit(r).await.unwrap();
    }

    let of_plugin = store.audit_records(Some(&plugin), None, 10).await.unwrap();
    assert_eq!(
        ids(&of_plugin),
        vec![&written[4].id, &written[2].id, &written[0].id],
        "a subject's records, newest first, and only its own"
    );
    assert_eq!(of_plugin[2], published, "a record reads back whole");

    let first_page = store.audit_records(Some(&plugin), None, 2).await.unwrap();
    assert_eq!(
        ids(&first_page),
        vec![&written[4].id, &written[2].id],
        "limit"
    );
    let next_page = store
        .audit_records(Some(&plugin), Some(&first_page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(
        ids(&next_page),
        vec![&written[0].id],
        "a page after the cursor"
    );

    let all = store.audit_records(None, None, 10).await.unwrap();
    let newest_first: Vec<&AuditId> = written.iter().rev().map(|r| &r.id).collect();
    assert_eq!(ids(&all), newest_first, "every record, newest first");
    let older = store
        .audit_records(None, Some(&written[3].id), 2)
        .await
        .unwrap();
    assert_eq!(
        ids(&older),
        vec![&written[2].id, &written[1].id],
        "all, paged"
    );

    let mut forged = written[0].clone();
    forged.action = AuditAction::VersionUnpublished;
    assert_eq!(
        conflict(store.append_audit(&forged).await),
        Conflict::AlreadyExists,
        "a record is never overwritten"
    );
    let again = store.audit_records(Some(&plugin), None, 10).await.unwrap();
    assert_eq!(again[2], published, "the first record stands");

    // Records made at once (one request's several, or many requests) all land.
    let racing = AuditSubject::Plugin(slug(&format!("{prefix}-audit-race")));
    let results = race(|i| {
        let store = Arc::clone(&store);
        let r = record(
            base + 100 + i as i64,
            &racing,
            AuditAction::VersionPublished,
        );
        async move { store.append_audit(&r).await }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let raced = store.audit_records(Some(&racing), None, 100).await.unwrap();
    assert_eq!(raced.len(), RACERS, "no appended record is lost");
}
