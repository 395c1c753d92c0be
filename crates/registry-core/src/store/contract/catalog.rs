//! The catalog port's contract: exclusive creation, conditional version changes,
//! one winner of racing writers, download counters (`downloads.rs`), paged listings and a plugin's
//! versions read a page at a time.

use std::sync::Arc;

use super::{RACERS, at, conflict, race, sample_version, single_winner, slug};
use crate::auth::PrincipalId;
use crate::moderation::Quarantine;
use crate::slug::Slug;
use crate::store::{
    CatalogStore, Conflict, Deprecation, LatestSummary, VersionChange, VersionSummary,
};
use crate::version::PluginVersion;

/// Runs every catalog check against `catalog`; slugs are prefixed with `prefix` so
/// one database can host several runs.
pub async fn catalog_contract(
    catalog: Arc<dyn CatalogStore>,
    prefix: &str,
    expiry: super::downloads::DailyExpiry,
) {
    create_is_exclusive_under_races(Arc::clone(&catalog), prefix).await;
    add_version_is_conditional(Arc::clone(&catalog), prefix).await;
    add_version_races_have_one_winner(Arc::clone(&catalog), prefix).await;
    change_version_is_conditional(Arc::clone(&catalog), prefix).await;
    super::downloads::download_counter_contract(Arc::clone(&catalog), prefix, expiry).await;
    listing_pages_past_one_page(Arc::clone(&catalog), prefix).await;
    version_records_page_through_every_version(Arc::clone(&catalog), prefix).await;
    head_and_highest_live_version_agree_with_the_plugin(Arc::clone(&catalog), prefix).await;
    quarantine_is_conditional_and_reads_back(Arc::clone(&catalog), prefix).await;
    pending_versions_are_listed_until_decided(Arc::clone(&catalog), prefix).await;
    confusable_slugs_are_refused_under_races(catalog, prefix).await;
}

async fn quarantine_is_conditional_and_reads_back(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-quarantined"));
    let record = sample_version(s.as_str(), "1.0.0");
    let owner = PrincipalId::from_stored("prn_owner");
    catalog
        .create_plugin(&s, &owner, &record, Some(&LatestSummary::of(&record)), &[])
        .await
        .expect("create");
    let before = catalog.plugin(&s).await.expect("read").expect("there");
    assert_eq!(before.quarantined, None);
    let notice = Quarantine {
        reason: "steals \"tokens\"".into(),
        by: PrincipalId::from_stored("prn_admin"),
        at: at("2026-06-01T00:00:00Z"),
    };
    let when = at("2026-06-01T00:00:01Z");
    assert_eq!(
        conflict(
            catalog
                .set_plugin_quarantine(&s, before.revision + 7, Some(&notice), when)
                .await
        ),
        Conflict::RevisionChanged,
        "a quarantine names the revision it was decided on"
    );
    catalog
        .set_plugin_quarantine(&s, before.revision, Some(&notice), when)
        .await
        .expect("quarantine");
    let held = catalog.plugin(&s).await.expect("read").expect("there");
    assert_eq!(held.quarantined.as_ref(), Some(&notice));
    assert_eq!(
        held.revision,
        before.revision + 1,
        "a quarantine is a change"
    );
    assert_eq!(held.latest, before.latest, "the latest summary stays");

    let v = record.version.clone();
    catalog
        .change_version(
            &s,
            held.revision,
            &v,
            &VersionChange::Quarantine(Some(notice.clone())),
            Some(&LatestSummary::of(&record)),
            when,
            &[],
        )
        .await
        .expect("quarantine a version");
    let both = catalog.plugin(&s).await.expect("read").expect("there");
    assert_eq!(both.versions[0].quarantined.as_ref(), Some(&notice));
    let stored = catalog.version(&s, &v).await.expect("read").expect("there");
    assert_eq!(
        stored.quarantined.as_ref(),
        Some(&notice),
        "in the record too"
    );

    catalog
        .set_plugin_quarantine(&s, both.revision, None, when)
        .await
        .expect("lift");
    catalog
        .change_version(
            &s,
            both.revision + 1,
            &v,
            &VersionChange::Quarantine(None),
            Some(&LatestSummary::of(&record)),
            when,
            &[],
        )
        .await
        .expect("lift the version's");
    let lifted = catalog.plugin(&s).await.expect("read").expect("there");
    assert_eq!(lifted.quarantined, None);
    assert_eq!(lifted.versions[0].quarantined, None);
}

async fn create_is_exclusive_under_races(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-race"));
    let record = sample_version(s.as_str(), "1.0.0");
    let results = race(|i| {
        let (catalog, s, record) = (Arc::clone(&catalog), s.clone(), record.clone());
        async move {
            let owner = PrincipalId::from_stored(format!("prn_{i}"));
            catalog
                .create_plugin(&s, &owner, &record, Some(&LatestSummary::of(&record)), &[])
                .await
        }
    })
    .await;
    let winner = single_winner(
        results,
        Conflict::PluginExists,
        "exactly one concurrent creator wins",
    );
    let stored = catalog.plugin(&s).await.expect("read").expect("created");
    assert_eq!(
        stored.owner.as_str(),
        format!("prn_{winner}"),
        "the winner owns the plugin"
    );
    assert_eq!(stored.versions.len(), 1);
    assert_eq!(
        stored
            .latest
            .as_ref()
            .map(|l| l.version.to_string())
            .as_deref(),
        Some("1.0.0")
    );
}

/// Creates plugin `s` owned by `prn_owner` with `version` as its first version, and
/// returns that version's record.
pub(super) async fn create_plugin_at(
    catalog: &dyn CatalogStore,
    s: &Slug,
    version: &str,
) -> crate::store::VersionRecord {
    let first = sample_version(s.as_str(), version);
    catalog
        .create_plugin(
            s,
            &PrincipalId::from_stored("prn_owner"),
            &first,
            Some(&LatestSummary::of(&first)),
            &[],
        )
        .await
        .unwrap();
    first
}

async fn add_version_is_conditional(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-cas"));
    let owner = PrincipalId::from_stored("prn_owner");
    let first = sample_version(s.as_str(), "1.0.0");
    catalog
        .create_plugin(&s, &owner, &first, Some(&LatestSummary::of(&first)), &[])
        .await
        .expect("create");
    let before = catalog.plugin(&s).await.unwrap().unwrap();
    let second = sample_version(s.as_str(), "1.1.0");

    let stale = super::add_as_latest(&*catalog, &s, before.revision + 7, &second).await;
    assert_eq!(
        conflict(stale),
        Conflict::RevisionChanged,
        "a stale revision is refused"
    );
    let again = super::add_as_latest(&*catalog, &s, before.revision, &first).await;
    assert_eq!(
        conflict(again),
        Conflict::VersionExists,
        "an existing version is never overwritten"
    );
    let unchanged = catalog.plugin(&s).await.unwrap().unwrap();
    assert_eq!(
        unchanged.revision, before.revision,
        "a refused write changes nothing"
    );
    assert_eq!(unchanged.versions.len(), 1);

    let revision_before = catalog.catalog_revision().await.unwrap();
    super::add_as_latest(&*catalog, &s, before.revision, &second)
        .await
        .expect("add");
    let after = catalog.plugin(&s).await.unwrap().unwrap();
    assert!(
        after.revision > before.revision,
        "a write moves the plugin's revision"
    );
    assert!(
        catalog.catalog_revision().await.unwrap() > revision_before,
        "and the catalog's"
    );
    assert_eq!(after.versions.len(), 2);
    let read = catalog
        .version(&s, &second.version)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(read, second, "a version record round-trips unchanged");
    let missing = PluginVersion::parse("9.9.9").unwrap();
    assert!(catalog.version(&s, &missing).await.unwrap().is_none());
    assert!(
        catalog
            .plugin(&slug(&format!("{prefix}-absent")))
            .await
            .unwrap()
            .is_none()
    );
    let never =
        super::add_as_latest(&*catalog, &slug(&format!("{prefix}-absent")), 1, &second).await;
    assert_eq!(
        conflict(never),
        Conflict::RevisionChanged,
        "no plugin means no matching revision"
    );
}

async fn add_version_races_have_one_winner(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-cas-race"));
    create_plugin_at(catalog.as_ref(), &s, "1.0.0").await;
    let revision = catalog.plugin(&s).await.unwrap().unwrap().revision;
    let results = race(|i| {
        let (catalog, s) = (Arc::clone(&catalog), s.clone());
        async move {
            let record = sample_version(s.as_str(), &format!("2.0.{i}"));
            super::add_as_latest(&*catalog, &s, revision, &record).await
        }
    })
    .await;
    single_winner(
        results,
        Conflict::RevisionChanged,
        "compare-and-set lets one writer of a revision through",
    );
    assert_eq!(catalog.plugin(&s).await.unwrap().unwrap().versions.len(), 2);
}

async fn change_version_is_conditional(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-change"));
    let first = create_plugin_at(catalog.as_ref(), &s, "1.0.0").await;
    let plugin = catalog.plugin(&s).await.unwrap().unwrap();
    let notice = Deprecation {
        reason: "old".into(),
        replacement_version: None,
        deprecated_at: at("2026-01-02T00:00:00Z"),
    };
    let when = at("2026-01-03T00:00:00Z");

    let stale = catalog
        .change_version(
            &s,
            plugin.revision + 1,
            &first.version,
            &VersionChange::Deprecate(notice.clone()),
            None,
            when,
            &[],
        )
        .await;
    assert_eq!(conflict(stale), Conflict::RevisionChanged);
    let missing = PluginVersion::parse("3.0.0").unwrap();
    let absent = catalog
        .change_version(
            &s,
            plugin.revision,
            &missing,
            &VersionChange::Deprecate(notice.clone()),
            None,
            when,
            &[],
        )
        .await;
    assert_eq!(conflict(absent), Conflict::Missing);
    assert_eq!(
        catalog.plugin(&s).await.unwrap().unwrap().revision,
        plugin.revision,
        "refusals change nothing"
    );

    catalog
        .change_version(
            &s,
            plugin.revision,
            &first.version,
            &VersionChange::Deprecate(notice.clone()),
            Some(&LatestSummary::of(&first)),
            when,
            &[],
        )
        .await
        .expect("deprecate");
    let deprecated = catalog.version(&s, &first.version).await.unwrap().unwrap();
    assert_eq!(deprecated.deprecated, Some(notice));
    let plugin = catalog.plugin(&s).await.unwrap().unwrap();
    assert_eq!(plugin.updated_at, when);

    catalog
        .change_version(
            &s,
            plugin.revision,
            &first.version,
            &VersionChange::Unpublish(when),
            None,
            when,
            &[],
        )
        .await
        .expect("unpublish");
    let gone = catalog.plugin(&s).await.unwrap().unwrap();
    assert_eq!(
        gone.versions[0].unpublished_at,
        Some(when),
        "the row stays, marked unpublished"
    );
    assert!(
        gone.latest.is_none(),
        "no live version leaves no latest summary"
    );
}

/// What a publish reads instead of every version's state: the plugin's row, and
/// the highest version not unpublished (semver order, not text order; quarantined
/// versions count, pre-releases too).
async fn head_and_highest_live_version_agree_with_the_plugin(
    catalog: Arc<dyn CatalogStore>,
    prefix: &str,
) {
    let s = slug(&format!("{prefix}-head"));
    assert_eq!(catalog.plugin_head(&s).await.unwrap(), None);
    assert_eq!(catalog.highest_live_version(&s).await.unwrap(), None);
    create_plugin_at(catalog.as_ref(), &s, "1.9.0").await;
    for version in ["1.10.0", "1.10.1-rc.1", "1.2.0"] {
        let plugin = catalog.plugin(&s).await.unwrap().unwrap();
        let record = sample_version(s.as_str(), version);
        super::add_as_latest(&*catalog, &s, plugin.revision, &record)
            .await
            .expect("add");
    }
    let highest = |v: &str| Some(PluginVersion::parse(v).unwrap());
    assert_eq!(
        catalog.highest_live_version(&s).await.unwrap(),
        highest("1.10.1-rc.1"),
        "the highest by semver precedence (1.10 above 1.9 and 1.2)"
    );
    let when = at("2026-01-03T00:00:00Z");
    let plugin = catalog.plugin(&s).await.unwrap().unwrap();
    assert_eq!(
        catalog.plugin_head(&s).await.unwrap(),
        Some(plugin.head()),
        "the head is the plugin without its versions"
    );
    catalog
        .change_version(
            &s,
            plugin.revision,
            &PluginVersion::parse("1.10.1-rc.1").unwrap(),
            &VersionChange::Unpublish(when),
            None,
            when,
            &[],
        )
        .await
        .expect("unpublish");
    let plugin = catalog.plugin(&s).await.unwrap().unwrap();
    catalog
        .change_version(
            &s,
            plugin.revision,
            &PluginVersion::parse("1.10.0").unwrap(),
            &VersionChange::Quarantine(Some(Quarantine {
                reason: "held".into(),
                by: PrincipalId::from_stored("prn_admin"),
                at: when,
            })),
            None,
            when,
            &[],
        )
        .await
        .expect("quarantine");
    assert_eq!(
        catalog.highest_live_version(&s).await.unwrap(),
        highest("1.10.0"),
        "an unpublished version no longer counts; a quarantined one still does"
    );
    let plugin = catalog.plugin(&s).await.unwrap().unwrap();
    assert_eq!(catalog.plugin_head(&s).await.unwrap(), Some(plugin.head()));
}

async fn listing_pages_past_one_page(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let page_prefix = format!("{prefix}-page");
    for i in 0..25 {
        let s = slug(&format!("{page_prefix}-{i:02}"));
        create_plugin_at(catalog.as_ref(), &s, "1.0.0").await;
    }
    let mut seen = Vec::new();
    let mut after: Option<Slug> = None;
    loop {
        let page = catalog.list_plugins(after.as_ref(), 10).await.unwrap();
        assert!(page.len() <= 10, "a page never exceeds its limit");
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.slug.clone());
        seen.extend(page.into_iter().map(|p| p.slug.to_string()));
    }
    let ours: Vec<&String> = seen
        .iter()
        .filter(|s| s.starts_with(&page_prefix))
        .collect();
    assert_eq!(ours.len(), 25, "every plugin listed exactly once");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "listings come in slug order");

    // Every third plugin gains a version; a page with versions holds each plugin
    // exactly as reading it alone does.
    for i in (0..25).step_by(3) {
        let s = slug(&format!("{page_prefix}-{i:02}"));
        let revision = catalog.plugin(&s).await.unwrap().unwrap().revision;
        let record = sample_version(s.as_str(), "1.1.0");
        super::add_as_latest(&*catalog, &s, revision, &record)
            .await
            .unwrap();
    }
    let mut paged = Vec::new();
    let mut after: Option<Slug> = None;
    loop {
        let page = catalog
            .plugins_with_versions_page(after.as_ref(), 10)
            .await
            .unwrap();
        assert!(page.len() <= 10, "a page never exceeds its limit");
        let Some((last, _)) = page.last() else {
            break;
        };
        after = Some(last.slug.clone());
        paged.extend(page);
    }
    assert_eq!(
        paged
            .iter()
            .map(|(p, _)| p.slug.to_string())
            .collect::<Vec<_>>(),
        seen,
        "the same plugins in the same order as the listing"
    );
    for (plugin, mut versions) in paged {
        let (alone, mut alone_versions) = catalog
            .plugin_with_versions(&plugin.slug)
            .await
            .unwrap()
            .unwrap();
        versions.sort_by(|a, b| a.version.cmp(&b.version));
        alone_versions.sort_by(|a, b| a.version.cmp(&b.version));
        assert_eq!(plugin, alone, "{}", plugin.slug);
        assert_eq!(versions, alone_versions, "{}", plugin.slug);
        if plugin.slug.as_str().starts_with(&page_prefix) {
            let i: usize = plugin.slug.as_str()[page_prefix.len() + 1..]
                .parse()
                .unwrap();
            let expected = if i.is_multiple_of(3) { 2 } else { 1 };
            assert_eq!(versions.len(), expected, "{}", plugin.slug);
        }
    }
}

/// Pages of a plugin's version records hold every record once, unpublished and
/// deprecated ones as they are, and the plugin's summaries say what the records say.
async fn version_records_page_through_every_version(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-many"));
    // "1.10.0" sorts before "1.2.0" as text and after it as a version.
    let versions = [
        "1.0.0",
        "1.1.0",
        "1.2.0",
        "1.10.0",
        "1.11.0",
        "2.0.0-beta.1",
        "2.0.0",
    ];
    create_plugin_at(catalog.as_ref(), &s, versions[0]).await;
    for version in &versions[1..] {
        let revision = catalog.plugin(&s).await.unwrap().unwrap().revision;
        let record = sample_version(s.as_str(), version);
        super::add_as_latest(&*catalog, &s, revision, &record)
            .await
            .unwrap();
    }
    let when = at("2026-01-03T00:00:00Z");
    let changes = [
        ("1.1.0", VersionChange::Unpublish(when)),
        (
            "1.10.0",
            VersionChange::Deprecate(Deprecation {
                reason: "old".into(),
                replacement_version: None,
                deprecated_at: when,
            }),
        ),
    ];
    for (version, change) in changes {
        let revision = catalog.plugin(&s).await.unwrap().unwrap().revision;
        catalog
            .change_version(
                &s,
                revision,
                &PluginVersion::parse(version).unwrap(),
                &change,
                None,
                when,
                &[],
            )
            .await
            .unwrap();
    }

    for limit in [1, 3, versions.len(), 100] {
        let mut paged = Vec::new();
        let mut after: Option<PluginVersion> = None;
        loop {
            let page = catalog
                .version_records_page(&s, after.as_ref(), limit)
                .await
                .unwrap();
            assert!(page.len() <= limit, "a page never exceeds its limit");
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.version.clone());
            paged.extend(page);
        }
        paged.sort_by(|a, b| a.version.cmp(&b.version));
        let (_, mut whole) = catalog.plugin_with_versions(&s).await.unwrap().unwrap();
        whole.sort_by(|a, b| a.version.cmp(&b.version));
        assert_eq!(paged, whole, "pages of {limit} hold every record once");
    }
    let (plugin, records) = catalog.plugin_with_versions(&s).await.unwrap().unwrap();
    let mut summaries = catalog.plugin(&s).await.unwrap().unwrap().versions;
    summaries.sort_by(|a, b| a.version.cmp(&b.version));
    let mut expected: Vec<_> = records.iter().map(VersionSummary::of).collect();
    expected.sort_by(|a, b| a.version.cmp(&b.version));
    assert_eq!(summaries, expected, "summaries say what the records say");
    assert!(
        summaries.iter().any(|v| v.unpublished_at == Some(when))
            && summaries.iter().any(|v| v.deprecated.is_some()),
        "lifecycle states survive in the summaries"
    );
    assert_eq!(plugin.versions.len(), versions.len());
    let nobody = slug(&format!("{prefix}-nobody"));
    assert!(
        catalog
            .version_records_page(&nobody, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "no plugin, no records"
    );
}

async fn confusable_slugs_are_refused_under_races(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let owner = PrincipalId::from_stored("prn_owner");
    let first = slug(&format!("{prefix}-look-alike"));
    let record = sample_version(first.as_str(), "1.0.0");
    catalog
        .create_plugin(
            &first,
            &owner,
            &record,
            Some(&LatestSummary::of(&record)),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        catalog.slug_with_skeleton(&first.skeleton()).await.unwrap(),
        Some(first.clone())
    );
    let alike = slug(&format!("{prefix}-lookalike"));
    assert_eq!(alike.skeleton(), first.skeleton());
    let record = sample_version(alike.as_str(), "1.0.0");
    assert_eq!(
        conflict(
            catalog
                .create_plugin(
                    &alike,
                    &owner,
                    &record,
                    Some(&LatestSummary::of(&record)),
                    &[]
                )
                .await
        ),
        Conflict::Confusable,
        "a slug confusable with an existing one is refused"
    );
    assert!(
        catalog.plugin(&alike).await.unwrap().is_none(),
        "and nothing of it was written"
    );
    assert!(
        catalog
            .version(&alike, &record.version)
            .await
            .unwrap()
            .is_none()
    );

    // Racers each bring their own spelling of one new skeleton: one wins.
    let base = format!("{prefix}confusablerace");
    let spellings: Vec<Slug> = (1..=RACERS)
        .map(|at| slug(&format!("{}-{}", &base[..at], &base[at..])))
        .collect();
    let results = race(|i| {
        let catalog = Arc::clone(&catalog);
        let spelled = spellings[i].clone();
        async move {
            let record = sample_version(spelled.as_str(), "1.0.0");
            catalog
                .create_plugin(
                    &spelled,
                    &PrincipalId::from_stored(format!("prn_{i}")),
                    &record,
                    Some(&LatestSummary::of(&record)),
                    &[],
                )
                .await
        }
    })
    .await;
    let winner = single_winner(
        results,
        Conflict::Confusable,
        "of racing confusable slugs, exactly one is created",
    );
    for (i, spelled) in spellings.iter().enumerate() {
        assert_eq!(
            catalog.plugin(spelled).await.unwrap().is_some(),
            i == winner,
            "{spelled}"
        );
    }
}

/// Versions waiting for review are listed, the longest waiting first, until a
/// decision rewrites them; a decision changes only the review's fields.
async fn pending_versions_are_listed_until_decided(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    use crate::review::ReviewState;
    use crate::store::{VersionChange, VersionRecord};

    let pending = |slug: &Slug, version: &str, submitted: &str| VersionRecord {
        review: Some(ReviewState::Pending {
            submitted_at: at(submitted),
            checks: Vec::new(),
        }),
        ..sample_version(slug.as_str(), version)
    };
    let ours = |records: Vec<VersionRecord>| -> Vec<String> {
        records
            .into_iter()
            .filter(|r| {
                r.manifest
                    .slug
                    .as_str()
                    .starts_with(&format!("{prefix}-held"))
            })
            .map(|r| format!("{}@{}", r.manifest.slug, r.version))
            .collect()
    };
    let owner = PrincipalId::from_stored("prn_owner");
    let (live, fresh) = (
        slug(&format!("{prefix}-held-live")),
        slug(&format!("{prefix}-held-new")),
    );
    let first = sample_version(live.as_str(), "1.0.0");
    catalog
        .create_plugin(&live, &owner, &first, Some(&LatestSummary::of(&first)), &[])
        .await
        .unwrap();
    let update = pending(&live, "1.1.0", "2026-04-02T00:00:00Z");
    let revision = catalog.plugin(&live).await.unwrap().unwrap().revision;
    catalog
        .add_version(
            &live,
            revision,
            &update,
            Some(&LatestSummary::of(&first)),
            &[],
        )
        .await
        .unwrap();
    // A plugin whose only version waits has no latest.
    let new = pending(&fresh, "0.1.0", "2026-04-01T00:00:00Z");
    catalog
        .create_plugin(&fresh, &owner, &new, None, &[])
        .await
        .unwrap();
    assert_eq!(catalog.plugin(&fresh).await.unwrap().unwrap().latest, None);
    assert_eq!(
        ours(catalog.versions_pending_review(100).await.unwrap()),
        [format!("{fresh}@0.1.0"), format!("{live}@1.1.0")],
        "the longest waiting first"
    );
    assert_eq!(
        catalog.versions_pending_review(1).await.unwrap().len(),
        1,
        "at most the limit"
    );

    let approved_at = at("2026-04-03T00:00:00Z");
    let revision = catalog.plugin(&live).await.unwrap().unwrap().revision;
    let version = PluginVersion::parse("1.1.0").unwrap();
    catalog
        .change_version(
            &live,
            revision,
            &version,
            &VersionChange::Approve(approved_at),
            Some(&LatestSummary::of(&update)),
            approved_at,
            &[],
        )
        .await
        .unwrap();
    let rejected = ReviewState::Rejected {
        submitted_at: at("2026-04-01T00:00:00Z"),
        decided_by: PrincipalId::from_stored("prn_reviewer"),
        decided_at: approved_at,
        comment: "no".into(),
    };
    let revision = catalog.plugin(&fresh).await.unwrap().unwrap().revision;
    catalog
        .change_version(
            &fresh,
            revision,
            &PluginVersion::parse("0.1.0").unwrap(),
            &VersionChange::Reject(rejected.clone()),
            None,
            approved_at,
            &[],
        )
        .await
        .unwrap();
    assert!(ours(catalog.versions_pending_review(100).await.unwrap()).is_empty());
    let record = catalog.version(&live, &version).await.unwrap().unwrap();
    assert_eq!(
        (record.review, record.published_at),
        (None, approved_at),
        "approval starts the version's life"
    );
    let plugin = catalog.plugin(&fresh).await.unwrap().unwrap();
    assert_eq!(plugin.versions[0].review, Some(rejected));
    assert_eq!(plugin.latest, None);
}
