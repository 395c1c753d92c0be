//! Every page type rendered from fixtures: snapshots of the bytes people get, and
//! the escaping rules checked on a manifest written by an attacker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use registry_core::artifact::{ArtifactKey, StoredArtifact};
use registry_core::auth::PrincipalId;
use registry_core::checksum::Sha256Digest;
use registry_core::manifest::{DocumentFormat, Manifest, parse_document};
use registry_core::search::{SearchHit, SearchPage};
use registry_core::store::{Deprecation, PluginRecord, VersionRecord, VersionSummary};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;
use registry_pages::{
    HomeSummary, PluginPages, SearchRequest, Site, gone_page, home_page, not_found_page,
    search_page,
};

fn at(raw: &str) -> Timestamp {
    Timestamp::parse(raw).unwrap()
}

fn version(raw: &str) -> PluginVersion {
    PluginVersion::parse(raw).unwrap()
}

fn record_of(manifest: Manifest, published: &str, bytes: &[u8]) -> VersionRecord {
    let sha256 = Sha256Digest::of(bytes);
    VersionRecord {
        version: manifest.version.clone(),
        schema: StoredArtifact {
            key: ArtifactKey::schema(
                &manifest.slug,
                &manifest.version,
                &sha256,
                DocumentFormat::Yaml,
            ),
            sha256,
            size: bytes.len() as u64,
            content_type: "application/yaml".into(),
        },
        manifest,
        bundle: None,
        published_at: at(published),
        published_by: PrincipalId::from_stored("prn_owner"),
        deprecated: None,
        unpublished_at: None,
        quarantined: None,
        review: None,
    }
}

/// The spec's GitHub plugin with every optional field, at 1.2.0, with 1.1.0
/// deprecated in favour of it and 1.0.0 before that.
fn github() -> (PluginRecord, VersionRecord) {
    let doc = include_str!("fixtures/full.yaml");
    let manifest = parse_document(doc.as_bytes(), DocumentFormat::Yaml).unwrap();
    let record = record_of(manifest, "2024-09-20T14:30:00Z", doc.as_bytes());
    let summary = |v: &str, day: &str| VersionSummary {
        version: version(v),
        published_at: at(day),
        deprecated: None,
        unpublished_at: None,
        quarantined: None,
        review: None,
    };
    let mut deprecated = summary("1.1.0", "2024-05-02T09:00:00Z");
    deprecated.deprecated = Some(Deprecation {
        reason: "Loses labels on new issues".into(),
        replacement_version: Some(version("1.2.0")),
        deprecated_at: at("2024-09-21T08:00:00Z"),
    });
    let plugin = PluginRecord {
        slug: record.manifest.slug.clone(),
        owner: PrincipalId::from_stored("prn_owner"),
        created_at: at("2024-01-15T10:00:00Z"),
        updated_at: at("2024-09-21T08:00:00Z"),
        downloads: 15420,
        healthy_instances: 3,
        quarantined: None,
        revision: 4,
        latest: None,
        versions: vec![
            summary("1.0.0", "2024-01-15T10:00:00Z"),
            deprecated,
            summary("1.2.0", "2024-09-20T14:30:00Z"),
        ],
    };
    (plugin, record)
}

fn site() -> Site {
    Site::new("https://registry.example.org")
}

fn page_of(plugin: &PluginRecord, record: &VersionRecord, is_latest: bool) -> String {
    PluginPages::new(&site(), plugin)
        .page(record, is_latest)
        .unwrap()
}

#[test]
fn the_plugin_page() {
    let (plugin, record) = github();
    insta::assert_snapshot!(page_of(&plugin, &record, true));
}

#[test]
fn a_deprecated_version_page_links_its_replacement() {
    let (plugin, mut record) = github();
    record.version = version("1.1.0");
    record.manifest.version = version("1.1.0");
    record.deprecated = plugin.versions[1].deprecated.clone();
    let page = page_of(&plugin, &record, false);
    assert!(
        page.contains("<strong>Deprecated.</strong> Loses labels on new issues"),
        "{page}"
    );
    assert!(
        page.contains(r#"Use <a href="/plugins/github?version=1.2.0">version 1.2.0</a> instead."#),
        "{page}"
    );
    assert!(
        page.contains(r#"<a href="/plugins/github">its latest version</a>"#),
        "{page}"
    );
    // What moves with the plugin is on its own page alone, so a new version
    // never changes this one.
    for moving in [
        "versions-heading\">Versions",
        "<dt>Downloads</dt>",
        "Healthy router instances",
    ] {
        assert!(
            !page.contains(moving),
            "{moving} is on an older version's page"
        );
    }
    insta::assert_snapshot!(page);
}

#[test]
fn the_github_example_page_is_small() {
    let (plugin, record) = github();
    let size = page_of(&plugin, &record, true).len();
    assert!(size < 30 * 1024, "the plugin page is {size} bytes");
}

#[test]
fn the_home_page() {
    let hit = |slug: &str, day: &str, tags: &[&str], downloads| SearchHit {
        slug: slug.into(),
        name: format!("The {slug} plugin"),
        description: format!("Does {slug} things"),
        version: "1.0.0".into(),
        author: "someone".into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        downloads,
        created_at: at("2024-01-01T00:00:00Z"),
        updated_at: at(day),
    };
    let hits = [
        hit("github", "2024-09-20T14:30:00Z", &["vcs", "git"], 15420),
        hit("gitlab", "2024-09-22T10:00:00Z", &["vcs", "git"], 800),
        hit("slack", "2024-08-01T10:00:00Z", &["chat"], 3000),
    ];
    let summary = HomeSummary::of(&hits);
    assert_eq!(
        (summary.plugins, summary.downloads, summary.tags),
        (3, 19220, 3)
    );
    insta::assert_snapshot!(home_page(&site(), &summary).unwrap());
}

#[test]
fn a_search_page_with_its_pager() {
    let hit = |slug: &str| SearchHit {
        slug: slug.into(),
        name: format!("The {slug} plugin"),
        description: format!("Does {slug} things"),
        version: "1.0.0".into(),
        author: "someone".into(),
        tags: vec!["vcs".into()],
        downloads: 7,
        created_at: at("2024-01-01T00:00:00Z"),
        updated_at: at("2024-02-01T00:00:00Z"),
    };
    let request = SearchRequest {
        q: Some("git".into()),
        tag: Some("vcs".into()),
        page: 2,
    };
    let found = SearchPage {
        total: 45,
        results: vec![hit("github"), hit("gitlab")],
    };
    insta::assert_snapshot!(search_page(&site(), &request, &found).unwrap());
}

#[test]
fn the_not_found_and_gone_pages() {
    insta::assert_snapshot!("not_found", not_found_page(&site()).unwrap());
    insta::assert_snapshot!("gone", gone_page(&site(), "github", "1.0.0").unwrap());
}

#[test]
fn links_stay_under_the_public_url_path() {
    let site = Site::new("https://example.org/registry/");
    let page = not_found_page(&site).unwrap();
    assert!(page.contains(r#"href="/registry/search""#), "{page}");
    assert!(
        page.contains(r#"href="/registry/index/assets/site."#),
        "{page}"
    );
}

/// A manifest an attacker wrote, taken as stored (validation would refuse its
/// URLs; the pages must not rely on that).
fn hostile_page() -> String {
    let doc = include_str!("fixtures/hostile.json");
    let manifest: Manifest = serde_json::from_str(doc).unwrap();
    let record = record_of(manifest, "2024-09-20T14:30:00Z", doc.as_bytes());
    let plugin = PluginRecord {
        slug: record.manifest.slug.clone(),
        owner: PrincipalId::from_stored("prn_owner"),
        created_at: record.published_at,
        updated_at: record.published_at,
        downloads: 0,
        healthy_instances: 0,
        quarantined: None,
        revision: 1,
        latest: None,
        versions: vec![VersionSummary::of(&record)],
    };
    page_of(&plugin, &record, true)
}

#[test]
fn a_hostile_manifest_renders_inert() {
    let page = hostile_page();
    // The layout's own script tag is the only one; nothing of the manifest runs.
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    // No element or attribute of the manifest's survives: what looked like markup
    // is text (escaped), and no link leads anywhere but http(s) or mailto.
    for needle in [
        "<script>window",
        "<img",
        "<svg",
        "<iframe",
        "<i onmouseover",
        "<b onmouseover",
        "<div onclick",
        "<b>bold",
        "href=\"javascript",
        "href=\"jAvAsCrIpT",
        "href=\"data:",
        "href=\"vbscript",
        "tracker.example",
        "style=\"",
    ] {
        assert!(!page.contains(needle), "{needle} is in the page:\n{page}");
    }
    // The text is still there, as text.
    assert!(
        page.contains("&#60;script&#62;window.hostileRan=1&#60;/script&#62;Hostile"),
        "{page}"
    );
}

#[test]
fn the_hostile_page_snapshot() {
    insta::assert_snapshot!(hostile_page());
}

mod summary {
    use super::*;
    use proptest::prelude::*;

    fn hit(i: usize, day: u8, tags: &[u8], downloads: u64) -> SearchHit {
        SearchHit {
            slug: format!("plugin-{i}"),
            name: format!("Plugin {i}"),
            description: String::new(),
            version: "1.0.0".into(),
            author: "someone".into(),
            tags: tags.iter().map(|t| format!("tag-{t}")).collect(),
            downloads,
            created_at: at("2024-01-01T00:00:00Z"),
            updated_at: at(&format!("2024-02-{:02}T00:00:00Z", day % 28 + 1)),
        }
    }

    fn hits() -> impl Strategy<Value = Vec<SearchHit>> {
        prop::collection::vec(
            (
                0u8..10,
                prop::collection::btree_set(0u8..30, 0..4),
                0u64..1000,
            ),
            0..40,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (day, tags, downloads))| {
                    hit(i, day, &tags.into_iter().collect::<Vec<_>>(), downloads)
                })
                .collect()
        })
    }

    proptest! {
        /// A full rebuild and an update see the entries in different orders; the
        /// home page must not tell.
        #[test]
        fn the_summary_ignores_the_order_of_entries(hits in hits(), seed in any::<u64>()) {
            let mut shuffled = hits.clone();
            let n = shuffled.len();
            for i in 0..n {
                let j = ((seed.wrapping_mul(i as u64 + 7)) % n as u64) as usize;
                shuffled.swap(i, j);
            }
            prop_assert_eq!(HomeSummary::of(&hits), HomeSummary::of(&shuffled));
        }

        #[test]
        fn recent_plugins_are_the_latest_changed_ties_by_slug(hits in hits()) {
            let mut sorted: Vec<&SearchHit> = hits.iter().collect();
            sorted.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.slug.cmp(&b.slug)));
            let expected: Vec<&str> = sorted.iter().take(10).map(|h| h.slug.as_str()).collect();
            let summary = HomeSummary::of(&hits);
            let recent: Vec<&str> = summary.recent.iter().map(|r| r.slug.as_str()).collect();
            prop_assert_eq!(recent, expected);
            prop_assert_eq!(summary.plugins, hits.len());
            prop_assert_eq!(summary.downloads, hits.iter().map(|h| h.downloads).sum::<u64>());
        }
    }
}

#[test]
fn the_downloads_chart() {
    let day = |n| time::Date::from_ordinal_date(2026, n).unwrap();
    insta::assert_snapshot!(registry_pages::downloads_chart(
        &[(day(50), 3), (day(99), 12), (day(100), 6)],
        day(100)
    ));
}

/// A rejected version under review whose checks answered with hostile text and
/// links, and a subscription whose receiver answered with hostile errors.
mod review_pages {
    use super::*;
    use registry_core::api::reviews::{
        CheckView, OrgReviewView, ReviewDecisionView, ReviewView, ReviewedArtifact,
    };
    use registry_core::api::webhooks::{DeliveryList, DeliveryView, WebhookView};
    use registry_core::catalog::CatalogPluginId;
    use registry_core::org::OrgId;
    use registry_core::registry::{DecisionQueue, OrgDecisions, OrgInfo};
    use registry_core::review::CheckStatus;
    use registry_core::webhook::{DeliveryAttempt, DeliveryState, EventKind};
    use registry_pages::{ReviewPageView, ReviewQueueView};

    fn review() -> ReviewView {
        let doc = include_str!("fixtures/full.yaml");
        let manifest = parse_document(doc.as_bytes(), DocumentFormat::Yaml).unwrap();
        let check = |name: &str, status, url: Option<&str>, summary: Option<&str>| CheckView {
            name: name.into(),
            status,
            requested_at: at("2026-12-04T10:00:00Z"),
            deadline: at("2026-12-04T11:00:00Z"),
            answered_at: url.map(|_| at("2026-12-04T10:05:00Z")),
            url: url.map(str::to_owned),
            summary: summary.map(str::to_owned),
        };
        ReviewView {
            id: "github@1.3.0".into(),
            slug: "github".into(),
            version: "1.3.0".into(),
            state: "rejected".into(),
            submitted_at: at("2026-12-04T10:00:00Z"),
            submitted_by: PrincipalId::from_stored("prn_owner"),
            current_version: Some("1.2.0".into()),
            manifest,
            schema: ReviewedArtifact {
                sha256: "ab".repeat(32),
                size: 1234,
                url: "https://registry.example.com/reviews/github@1.3.0/schema".into(),
            },
            bundle: None,
            decision: Some(ReviewDecisionView {
                state: "rejected".into(),
                decided_by: PrincipalId::from_stored("prn_reviewer"),
                decided_at: at("2026-12-04T12:00:00Z"),
                comment: "<img src=x onerror=alert(1)> reads ~/.ssh".into(),
            }),
            checks: vec![
                check(
                    "malware-scan",
                    CheckStatus::Failed,
                    Some("javascript:alert(1)"),
                    Some("<script>alert(2)</script>"),
                ),
                check(
                    "licence",
                    CheckStatus::Passed,
                    Some("https://scanner.example/r/1?a=1&b=<2>"),
                    None,
                ),
                check("slow", CheckStatus::TimedOut, None, None),
            ],
        }
    }

    #[test]
    fn a_review_page_shows_checks_and_the_rejection_as_text() {
        let page =
            registry_pages::review_page(&site(), &review(), ReviewPageView::default()).unwrap();
        assert!(
            !page.contains("method=\"post\""),
            "an owner's view has nothing to decide"
        );
        assert!(
            page.contains("href=\"/account/reviews/github@1.3.0/schema\""),
            "downloads go through the session's route, not the API's"
        );
        assert!(!page.contains("<script>alert(2)") && !page.contains("<img src=x"));
        assert!(!page.contains("href=\"javascript:"), "only http(s) links");
        assert!(page.contains("did not answer in time (failed)"));
        insta::assert_snapshot!(page);
    }

    fn pending() -> ReviewView {
        let mut pending = review();
        pending.state = "pending".into();
        pending.current_version = None;
        pending.decision = None;
        pending
    }

    #[test]
    fn a_reviewer_decides_a_pending_review_and_runs_its_checks_again_from_its_page() {
        let page = registry_pages::review_page(
            &site(),
            &pending(),
            ReviewPageView {
                decide_csrf: Some("csrf-token"),
                error: Some("say why <b>it</b> is rejected"),
            },
        )
        .unwrap();
        assert!(page.contains("action=\"/account/reviews/github@1.3.0/decision\""));
        assert!(
            page.contains("action=\"/account/reviews/github@1.3.0/checks/malware-scan/rerun\"")
        );
        assert_eq!(
            page.matches("value=\"csrf-token\"").count(),
            4,
            "each form carries it"
        );
        assert!(
            page.contains("say why &#60;b&#62;it&#60;/b&#62; is rejected"),
            "{page}"
        );
        insta::assert_snapshot!(page);
    }

    fn queue() -> DecisionQueue {
        let upload = |hex: &str, name: &str| OrgReviewView {
            plugin_id: CatalogPluginId::from_stored(format!("plg_{hex}")),
            pid: "weather".into(),
            version: "2.0.0".into(),
            name: name.into(),
            description: "<script>alert(3)</script>".into(),
            state: "pending".into(),
            submitted_at: at("2026-12-04T09:00:00Z"),
            submitted_by: PrincipalId::from_stored("prn_uploader"),
            decision: None,
        };
        DecisionQueue {
            registry: Some(vec![pending()]),
            orgs: vec![OrgDecisions {
                org: OrgInfo {
                    id: OrgId::parse("acme").unwrap(),
                    name: "Acme <Corp>".into(),
                    created_at: at("2026-11-01T00:00:00Z"),
                },
                reviews: vec![upload("0123456789abcdef", "Weather <b>")],
            }],
        }
    }

    #[test]
    fn the_review_queue_page() {
        let own = [review(), pending()];
        let decisions = queue();
        let page = registry_pages::review_queue_page(
            &site(),
            &ReviewQueueView {
                own: &own,
                decisions: &decisions,
                csrf_token: "csrf-token",
                error: None,
            },
        )
        .unwrap();
        assert!(!page.contains("<script>alert(3)") && !page.contains("Acme <Corp>"));
        assert!(
            page.contains("action=\"/account/orgs/acme/reviews/plg_0123456789abcdef/decision\"")
        );
        insta::assert_snapshot!(page);

        let nothing = DecisionQueue::default();
        let empty = registry_pages::review_queue_page(
            &site(),
            &ReviewQueueView {
                own: &[],
                decisions: &nothing,
                csrf_token: "csrf-token",
                error: None,
            },
        )
        .unwrap();
        assert!(empty.contains("Nothing of yours is under review."));
        assert!(
            !empty.contains("Waiting for your review") && !empty.contains("method=\"post\""),
            "someone who reviews nothing sees no queue: {empty}"
        );
    }

    #[test]
    fn a_subscriptions_deliveries_page_shows_attempts_as_text() {
        let webhook = WebhookView {
            id: "whk_0123456789abcdef".into(),
            scope: "plugin:github".into(),
            url: "https://hooks.example.com/<x>".into(),
            events: vec![EventKind::VersionPublished, EventKind::VersionDeprecated],
            created_by: PrincipalId::from_stored("prn_owner"),
            created_at: at("2026-12-01T00:00:00Z"),
            check: None,
        };
        let attempt = |status: Option<u16>, error: Option<&str>| DeliveryAttempt {
            at: at("2026-12-04T10:00:00Z"),
            status,
            error: error.map(str::to_owned),
            duration_ms: 12,
        };
        let log = DeliveryList {
            deliveries: vec![
                DeliveryView {
                    id: "dlv_00692e7a3c0123456789ab".into(),
                    event_id: "evt_8f14e45fceea167a5a36dedd".into(),
                    event_type: EventKind::VersionPublished,
                    state: DeliveryState::Pending,
                    created_at: at("2026-12-04T10:00:00Z"),
                    next_attempt_at: Some(at("2026-12-04T10:00:30Z")),
                    attempts: vec![attempt(None, Some("could not connect: <b>refused</b>"))],
                    body: "{}".into(),
                },
                DeliveryView {
                    id: "dlv_00692e7a000123456789ab".into(),
                    event_id: "evt_000000000000000000000000".into(),
                    event_type: EventKind::VersionDeprecated,
                    state: DeliveryState::Delivered,
                    created_at: at("2026-12-04T09:00:00Z"),
                    next_attempt_at: None,
                    attempts: vec![attempt(Some(503), None), attempt(Some(204), None)],
                    body: "{}".into(),
                },
            ],
        };
        let page = registry_pages::deliveries_page(&site(), &webhook, &log).unwrap();
        assert!(!page.contains("<b>refused"));
        insta::assert_snapshot!(page);
    }
}
