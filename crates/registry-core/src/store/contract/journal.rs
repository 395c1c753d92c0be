//! The change journal's contract: a catalog write and its journal entry commit
//! together, in order, and marking entries applied removes exactly those.

use crate::auth::PrincipalId;
use crate::store::{
    CatalogStore, ChangeJournal, ChangeScope, Deprecation, LatestSummary, VersionChange,
};

use super::{at, conflict, sample_version, slug};

/// Runs every check of the change journal against `journal`, which must see the
/// writes made through `catalog` (one store).
pub async fn change_journal_contract(catalog: &dyn CatalogStore, journal: &dyn ChangeJournal) {
    let pending_slugs = || async {
        journal
            .pending_changes(100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.slug.to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        pending_changes_are_empty(journal).await,
        "a new store's journal is empty"
    );

    let (a, b) = (slug("journal-a"), slug("journal-b"));
    let owner = PrincipalId::from_stored("prn_owner");
    let first = sample_version("journal-a", "1.0.0");
    catalog
        .create_plugin(&a, &owner, &first, Some(&LatestSummary::of(&first)), &[])
        .await
        .unwrap();
    let other = sample_version("journal-b", "1.0.0");
    catalog
        .create_plugin(&b, &owner, &other, Some(&LatestSummary::of(&other)), &[])
        .await
        .unwrap();
    let second = sample_version("journal-a", "1.1.0");
    let revision = catalog.plugin(&a).await.unwrap().unwrap().revision;
    super::add_as_latest(catalog, &a, revision, &second)
        .await
        .unwrap();
    assert_eq!(
        pending_slugs().await,
        ["journal-a", "journal-b", "journal-a"],
        "each write appends its plugin, in commit order"
    );
    let scopes = |entries: Vec<crate::store::JournalEntry>| {
        entries.into_iter().map(|e| e.scope).collect::<Vec<_>>()
    };
    assert_eq!(
        scopes(journal.pending_changes(100).await.unwrap()),
        [
            ChangeScope::Plugin,
            ChangeScope::Plugin,
            ChangeScope::Version(second.version.clone())
        ],
        "a new plugin may change anything of it; a new version, that version"
    );

    // A write that fails its condition appends nothing.
    let stale = catalog
        .add_version(
            &a,
            revision,
            &sample_version("journal-a", "1.2.0"),
            Some(&LatestSummary::of(&second)),
            &[],
        )
        .await;
    let _ = conflict(stale);
    let exists = catalog
        .create_plugin(&b, &owner, &other, Some(&LatestSummary::of(&other)), &[])
        .await;
    let _ = conflict(exists);
    assert_eq!(
        pending_slugs().await.len(),
        3,
        "failed writes leave no entry"
    );

    let entries = journal.pending_changes(100).await.unwrap();
    assert!(
        entries.windows(2).all(|w| w[0].seq < w[1].seq),
        "entries come oldest first: {entries:?}"
    );
    assert_eq!(
        journal.pending_changes(2).await.unwrap(),
        entries[..2],
        "limit keeps the oldest"
    );
    journal
        .mark_applied(&[entries[0].seq, entries[2].seq])
        .await
        .unwrap();
    assert_eq!(
        pending_slugs().await,
        ["journal-b"],
        "exactly the marked entries go"
    );
    journal.mark_applied(&[entries[0].seq]).await.unwrap();
    assert_eq!(
        pending_slugs().await,
        ["journal-b"],
        "marking twice is harmless"
    );

    let revision = catalog.plugin(&a).await.unwrap().unwrap().revision;
    catalog
        .change_version(
            &a,
            revision,
            &second.version,
            &VersionChange::Deprecate(Deprecation {
                reason: "old".into(),
                replacement_version: None,
                deprecated_at: at("2026-01-02T00:00:00Z"),
            }),
            Some(&LatestSummary::of(&first)),
            at("2026-01-02T00:00:00Z"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        pending_slugs().await,
        ["journal-b", "journal-a"],
        "deprecating is journaled too"
    );
    assert_eq!(
        journal.pending_changes(100).await.unwrap()[1].scope,
        ChangeScope::Version(second.version.clone()),
        "with the version it changed"
    );
    let downloaded = crate::downloads::DownloadKey {
        slug: b.clone(),
        version: other.version.clone(),
        day: at("2026-01-02T00:00:00Z").day(),
        client: crate::downloads::DownloadClient::Other,
    };
    let retention = crate::downloads::Retention::default();
    catalog
        .record_download(&downloaded, retention)
        .await
        .unwrap();
    assert_eq!(
        catalog
            .roll_up_downloads(at("2026-01-03T00:00:00Z").day(), retention)
            .await
            .unwrap(),
        std::slice::from_ref(&b)
    );
    assert_eq!(
        journal.pending_changes(100).await.unwrap()[2..]
            .iter()
            .map(|e| (e.slug.to_string(), e.scope.clone()))
            .collect::<Vec<_>>(),
        [("journal-b".to_owned(), ChangeScope::Latest)],
        "a downloads roll-up changes only what moves with the plugin"
    );
    let all: Vec<u64> = journal
        .pending_changes(100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    journal.mark_applied(&all).await.unwrap();
    assert!(pending_changes_are_empty(journal).await);
}

async fn pending_changes_are_empty(journal: &dyn ChangeJournal) -> bool {
    journal.pending_changes(1).await.unwrap().is_empty()
}
