//! The contract of the router port ([`McpRouterStore`]), run against SQLite in
//! `registry-sqlite` and DynamoDB Local in `registry-aws`.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::macros::date;

use super::{DailyExpiry, RACERS, conflict, sample_version};
use crate::auth::PrincipalId;
use crate::downloads::Retention;
use crate::mcp_router::{
    DailyHealthyInstances, InstanceHealth, InstanceId, McpRouterInstance, TargetUrl,
};
use crate::slug::Slug;
use crate::store::{CatalogStore, Conflict, LatestSummary, McpRouterStore};
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// An instance of `slug@1.0.0` with id `id`, registered as `registration`.
pub fn sample_instance(slug: &Slug, id: &str, registration: &str) -> McpRouterInstance {
    McpRouterInstance {
        slug: slug.clone(),
        instance_id: InstanceId::parse(id).expect("instance id"),
        registration: registration.to_owned(),
        version: PluginVersion::parse("1.0.0").expect("version"),
        url: TargetUrl::parse(&format!("http://{id}.svc:8000")).expect("url"),
        health_check_url: TargetUrl::parse(&format!("http://{id}.svc:8000/healthz")).expect("url"),
        actions: vec!["run".to_owned()],
        region: Some("us-east-1".to_owned()),
        registered_at: Timestamp::parse("2026-03-02T12:00:00Z").expect("ts"),
        registered_by: PrincipalId::from_stored("prn_router"),
        health: InstanceHealth::default(),
    }
}

async fn published(catalog: &Arc<dyn CatalogStore>, raw: &str) -> Slug {
    let slug = Slug::parse(raw).expect("slug");
    let record = sample_version(raw, "1.0.0");
    catalog
        .create_plugin(
            &slug,
            &PrincipalId::from_stored("prn_owner"),
            &record,
            Some(&LatestSummary::of(&record)),
            &[],
        )
        .await
        .expect("create plugin");
    slug
}

async fn healthy_count(catalog: &Arc<dyn CatalogStore>, slug: &Slug) -> u64 {
    catalog
        .plugin(slug)
        .await
        .expect("read plugin")
        .expect("plugin exists")
        .healthy_instances
}

/// Runs every router check; slugs start with `prefix` so one store can host runs.
pub async fn mcp_router_store_contract(
    catalog: Arc<dyn CatalogStore>,
    router: Arc<dyn McpRouterStore>,
    prefix: &str,
    expiry: DailyExpiry,
) {
    healthy_instances_keep_each_days_extremes(Arc::clone(&router), prefix, expiry).await;
    let slug = published(&catalog, &format!("{prefix}-routed")).await;
    let other = published(&catalog, &format!("{prefix}-routed-too")).await;

    // No plugin, no instance, and nothing written.
    let ghost = Slug::parse(&format!("{prefix}-ghost")).unwrap();
    assert_eq!(
        conflict(
            router
                .insert_instance(&sample_instance(&ghost, "a", "r1"))
                .await
        ),
        Conflict::Missing,
        "an instance of a plugin that does not exist is refused"
    );
    assert!(router.instances(&ghost).await.unwrap().is_empty());

    // Insert, read back, count.
    for id in ["b", "a", "c"] {
        router
            .insert_instance(&sample_instance(&slug, id, &format!("reg-{id}")))
            .await
            .unwrap();
    }
    router
        .insert_instance(&sample_instance(&other, "z", "reg-z"))
        .await
        .unwrap();
    let ids = |list: Vec<McpRouterInstance>| {
        list.into_iter()
            .map(|i| format!("{}/{}", i.slug, i.instance_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(router.instances(&slug).await.unwrap()),
        [
            format!("{slug}/a"),
            format!("{slug}/b"),
            format!("{slug}/c")
        ],
        "a plugin's instances come in id order"
    );
    let all = ids(router.all_instances().await.unwrap());
    let ours: Vec<_> = all
        .iter()
        .filter(|i| i.starts_with(&format!("{prefix}-")))
        .cloned()
        .collect();
    assert_eq!(
        ours,
        [
            format!("{slug}/a"),
            format!("{slug}/b"),
            format!("{slug}/c"),
            format!("{other}/z")
        ],
        "every instance, in slug then id order"
    );
    assert_eq!(healthy_count(&catalog, &slug).await, 3);
    assert_eq!(healthy_count(&catalog, &other).await, 1);
    let a = InstanceId::parse("a").unwrap();
    assert_eq!(
        router.instance(&slug, &a).await.unwrap(),
        Some(sample_instance(&slug, "a", "reg-a"))
    );

    // A taken id is refused and the count does not move.
    assert_eq!(
        conflict(
            router
                .insert_instance(&sample_instance(&slug, "a", "other"))
                .await
        ),
        Conflict::AlreadyExists
    );
    assert_eq!(healthy_count(&catalog, &slug).await, 3);

    // Replacing is conditional on the registration it read.
    let mut moved = sample_instance(&slug, "a", "reg-a2");
    moved.url = TargetUrl::parse("http://a.svc:9000").unwrap();
    assert_eq!(
        conflict(router.replace_instance(&moved, "stale").await),
        Conflict::RevisionChanged
    );
    router.replace_instance(&moved, "reg-a").await.unwrap();
    assert_eq!(
        router.instance(&slug, &a).await.unwrap(),
        Some(moved.clone())
    );
    assert_eq!(
        healthy_count(&catalog, &slug).await,
        3,
        "a replacement adds nothing"
    );

    // A check's result lands only on the registration it was made for.
    let at = Timestamp::parse("2026-03-02T12:01:00Z").unwrap();
    let failed = InstanceHealth::default().failed(at, "answered HTTP 500, expected 200");
    assert_eq!(
        conflict(router.record_check(&slug, &a, "reg-a", &failed).await),
        Conflict::Missing,
        "a result for an earlier registration is dropped"
    );
    router
        .record_check(&slug, &a, "reg-a2", &failed)
        .await
        .unwrap();
    let passed = failed.passed(
        at,
        BTreeMap::from([("db".to_owned(), "healthy".to_owned())]),
    );
    router
        .record_check(&slug, &a, "reg-a2", &passed)
        .await
        .unwrap();
    let stored = router.instance(&slug, &a).await.unwrap().unwrap();
    assert_eq!(stored.health, passed);
    assert_eq!(stored.registration, "reg-a2");

    // Removal: conditional when a registration is named, and counted down.
    assert_eq!(
        conflict(router.remove_instance(&slug, &a, Some("reg-a"), &[]).await),
        Conflict::Missing
    );
    router
        .remove_instance(&slug, &a, Some("reg-a2"), &[])
        .await
        .unwrap();
    let b = InstanceId::parse("b").unwrap();
    router.remove_instance(&slug, &b, None, &[]).await.unwrap();
    assert_eq!(
        conflict(router.remove_instance(&slug, &b, None, &[]).await),
        Conflict::Missing
    );
    assert_eq!(
        conflict(router.record_check(&slug, &b, "reg-b", &failed).await),
        Conflict::Missing,
        "a result for a removed instance does not bring it back"
    );
    assert!(router.instance(&slug, &b).await.unwrap().is_none());
    assert_eq!(healthy_count(&catalog, &slug).await, 1);

    // Racing registrations of one id: exactly one wins, and counts once.
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (router, slug) = (Arc::clone(&router), slug.clone());
            tokio::spawn(async move {
                router
                    .insert_instance(&sample_instance(&slug, "raced", &format!("reg-{i}")))
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.expect("racer") {
            Ok(()) => winners += 1,
            Err(e) => assert_eq!(conflict::<()>(Err(e)), Conflict::AlreadyExists),
        }
    }
    assert_eq!(
        winners, 1,
        "{winners} of {RACERS} registrations of one id won"
    );
    assert_eq!(
        healthy_count(&catalog, &slug).await,
        router.instances(&slug).await.unwrap().len() as u64,
        "the count equals the table after racing writes"
    );
}

/// A day of healthy instances is the fewest and the most of the day's passes,
/// per plugin, whatever order (or race) the passes land in.
async fn healthy_instances_keep_each_days_extremes(
    router: Arc<dyn McpRouterStore>,
    prefix: &str,
    expiry: DailyExpiry,
) {
    let (one, two) = (
        Slug::parse(&format!("{prefix}-healthy-one")).unwrap(),
        Slug::parse(&format!("{prefix}-healthy-two")).unwrap(),
    );
    let retention = Retention::default();
    let (mar2, mar3, mar4) = (
        date!(2026 - 03 - 02),
        date!(2026 - 03 - 03),
        date!(2026 - 03 - 04),
    );
    let day = |day, lowest, highest| DailyHealthyInstances {
        day,
        lowest,
        highest,
    };
    for (on, counts) in [
        (mar2, vec![(one.clone(), 2), (two.clone(), 1)]),
        (mar2, vec![(one.clone(), 3)]),
        (mar2, vec![(one.clone(), 1)]),
        (mar2, vec![(one.clone(), 2)]),
        (mar3, vec![(one.clone(), 0)]),
    ] {
        router
            .record_healthy_instances(on, &counts, retention)
            .await
            .unwrap();
    }
    assert_eq!(
        router
            .healthy_instance_history(&one, mar2, mar4)
            .await
            .unwrap(),
        [day(mar2, 1, 3), day(mar3, 0, 0)],
        "each day keeps its passes' fewest and most, in day order"
    );
    assert_eq!(
        router
            .healthy_instance_history(&one, mar3, mar3)
            .await
            .unwrap(),
        [day(mar3, 0, 0)],
        "only the days asked for"
    );
    assert_eq!(
        router
            .healthy_instance_history(&two, mar2, mar4)
            .await
            .unwrap(),
        [day(mar2, 1, 1)],
        "plugins are kept apart"
    );

    // Passes racing on one day: the extremes survive every interleaving.
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (router, one) = (Arc::clone(&router), one.clone());
            tokio::spawn(async move {
                router
                    .record_healthy_instances(mar4, &[(one, i as u32 + 5)], retention)
                    .await
            })
        })
        .collect();
    for racer in racers {
        racer.await.expect("racer").unwrap();
    }
    assert_eq!(
        router
            .healthy_instance_history(&one, mar4, mar4)
            .await
            .unwrap(),
        [day(mar4, 5, RACERS as u32 + 4)]
    );

    // A pass past the retention drops the days it no longer keeps (DynamoDB
    // lets its TTL do it, which the adapter's own test checks).
    let later = mar4 + time::Duration::days(i64::from(retention.in_days()));
    router
        .record_healthy_instances(later, &[(two.clone(), 4)], retention)
        .await
        .unwrap();
    let kept = router
        .healthy_instance_history(&one, mar2, later)
        .await
        .unwrap();
    match expiry {
        DailyExpiry::RollUpDeletes => assert_eq!(
            kept,
            [day(mar4, 5, RACERS as u32 + 4)],
            "days before the retention are dropped"
        ),
        DailyExpiry::StoreExpires => assert_eq!(kept.len(), 3),
    }
}
