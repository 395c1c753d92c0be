//! The webhook port's contract: subscriptions read back whole by scope;
//! deliveries read back newest first; claims hand each due delivery to one
//! claimer at a time, again once its lease runs out, never once it is finished;
//! removing a subscription takes its pending deliveries with it.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use futures_util::future::join_all;

use super::{RACERS, at, conflict, sample_version, slug};
use crate::auth::PrincipalId;
use crate::mcp_router::TargetUrl;
use crate::org::OrgId;
use crate::store::{Conflict, WebhookStore};
use crate::timestamp::Timestamp;
use crate::webhook::{
    Delivery, DeliveryAttempt, DeliveryId, DeliveryState, EventData, EventKind, HookScope,
    RetrySchedule, SigningSecret, Subscription, SubscriptionId, WebhookEvent,
};

fn subscription(scope: HookScope, n: u32) -> Subscription {
    Subscription {
        id: SubscriptionId::generate().expect("entropy"),
        scope,
        url: TargetUrl::parse(&format!("https://hooks.example.com/{n}")).expect("url"),
        events: BTreeSet::from([EventKind::VersionPublished, EventKind::VersionRejected]),
        secret: SigningSecret::generate().expect("entropy"),
        created_by: PrincipalId::from_stored("prn_owner"),
        created_at: at(&format!("2026-12-01T10:00:{n:02}Z")),
        check: (n == 2).then(|| crate::webhook::CheckSettings {
            name: "malware-scan".into(),
            timeout_secs: 3600,
        }),
    }
}

fn delivery(to: &Subscription, made: Timestamp) -> Delivery {
    let event = WebhookEvent::new(
        EventKind::VersionPublished,
        made,
        EventData {
            slug: Some("weather".into()),
            reason: Some("says \"hi\"\n".into()),
            ..EventData::default()
        },
    )
    .expect("entropy");
    Delivery::of(&event, &event.body(), &to.id, made).expect("entropy")
}

fn failed(at_: Timestamp) -> DeliveryAttempt {
    DeliveryAttempt {
        at: at_,
        status: Some(503),
        error: None,
        duration_ms: 12,
    }
}

fn ids(deliveries: &[Delivery]) -> Vec<&DeliveryId> {
    deliveries.iter().map(|d| &d.id).collect()
}

/// Runs every webhook-store check against an empty store. A store whose
/// deliveries `age_out_by_themselves` (DynamoDB's time to live) prunes nothing
/// when asked; its adapter's own tests check the expiry it sets instead.
pub async fn webhook_store_contract(
    store: Arc<dyn WebhookStore>,
    prefix: &str,
    age_out_by_themselves: bool,
) {
    let plugin = HookScope::Plugin(slug(&format!("{prefix}-hooked")));
    let org = HookScope::Org(OrgId::parse(&format!("{prefix}-org")).expect("org"));
    let first = subscription(plugin.clone(), 1);
    let second = subscription(plugin.clone(), 2);
    let other = subscription(org.clone(), 3);
    for s in [&second, &first, &other] {
        store.insert_subscription(s).await.unwrap();
    }
    assert_eq!(
        conflict(store.insert_subscription(&first).await),
        Conflict::AlreadyExists,
        "a subscription is never overwritten"
    );
    assert_eq!(
        store.subscription(&first.id).await.unwrap().as_ref(),
        Some(&first),
        "a subscription reads back whole, secret included"
    );
    assert_eq!(
        store.subscriptions(&plugin).await.unwrap(),
        vec![first.clone(), second.clone()],
        "a scope's subscriptions, oldest first"
    );
    assert_eq!(
        store.subscriptions(&org).await.unwrap(),
        vec![other.clone()]
    );
    assert!(
        store
            .subscriptions(&HookScope::Registry)
            .await
            .unwrap()
            .is_empty()
    );

    // Three deliveries to `first`, made a second apart; one to `other`.
    let t0 = at("2026-12-01T12:00:00Z");
    let made: Vec<Delivery> = (0..3)
        .map(|n| delivery(&first, t0.plus(time::Duration::seconds(n))))
        .collect();
    store.insert_deliveries(&made).await.unwrap();
    let elsewhere = delivery(&other, t0);
    store
        .insert_deliveries(std::slice::from_ref(&elsewhere))
        .await
        .unwrap();
    store.insert_deliveries(&[]).await.unwrap();
    assert_eq!(
        store
            .delivery(&first.id, &made[1].id)
            .await
            .unwrap()
            .as_ref(),
        Some(&made[1]),
        "a delivery reads back whole, body byte for byte"
    );
    assert_eq!(
        store.delivery(&other.id, &made[1].id).await.unwrap(),
        None,
        "a delivery is found only under its own subscription"
    );
    assert_eq!(
        ids(&store.deliveries(&first.id, 10).await.unwrap()),
        vec![&made[2].id, &made[1].id, &made[0].id],
        "the log is newest first"
    );
    assert_eq!(
        store.deliveries(&first.id, 2).await.unwrap().len(),
        2,
        "limit"
    );

    // Nothing is due before its time.
    let before = t0.plus(time::Duration::seconds(-1));
    assert!(
        store
            .claim_due_deliveries(before, t0, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing is due before its time"
    );
    let now = t0.plus(time::Duration::seconds(1));
    let lease = now.plus(time::Duration::seconds(30));
    let claimed = store.claim_due_deliveries(now, lease, 2).await.unwrap();
    assert_eq!(claimed.len(), 2, "a claim takes at most its limit");
    let claimed_ids: HashSet<&DeliveryId> = claimed.iter().map(|d| &d.id).collect();
    assert_eq!(
        claimed_ids,
        HashSet::from([&made[0].id, &elsewhere.id]),
        "the earliest due go first"
    );
    let rest = store.claim_due_deliveries(now, lease, 10).await.unwrap();
    assert_eq!(
        ids(&rest),
        vec![&made[1].id],
        "a leased delivery is not claimed again; one due later is"
    );
    assert!(
        store
            .claim_due_deliveries(now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "every due delivery is leased"
    );
    let after_lease = lease.plus(time::Duration::seconds(1));
    let reclaimed = store
        .claim_due_deliveries(
            after_lease,
            after_lease.plus(time::Duration::seconds(30)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        reclaimed.len(),
        4,
        "once a lease runs out its delivery is due again (a node died mid-attempt)"
    );

    // A failure puts it off; a success finishes it.
    let schedule = RetrySchedule::default();
    let mut retried = reclaimed
        .iter()
        .find(|d| d.id == made[0].id)
        .cloned()
        .expect("made[0] reclaimed");
    retried.record(failed(after_lease), &schedule, 0.0);
    store.record_delivery(&retried).await.unwrap();
    assert_eq!(
        store
            .delivery(&first.id, &made[0].id)
            .await
            .unwrap()
            .as_ref(),
        Some(&retried),
        "a recorded attempt reads back"
    );
    let mut done = reclaimed
        .iter()
        .find(|d| d.id == made[1].id)
        .cloned()
        .expect("made[1] reclaimed");
    done.record(
        DeliveryAttempt {
            status: Some(204),
            ..failed(after_lease)
        },
        &schedule,
        0.0,
    );
    store.record_delivery(&done).await.unwrap();
    let much_later = after_lease.plus(time::Duration::hours(1));
    let due = store
        .claim_due_deliveries(much_later, much_later.plus(time::Duration::seconds(30)), 10)
        .await
        .unwrap();
    let due_ids: HashSet<&DeliveryId> = due.iter().map(|d| &d.id).collect();
    assert!(
        due_ids.contains(&made[0].id),
        "recording ends the lease; a retry is due at its time"
    );
    assert!(
        !due_ids.contains(&made[1].id),
        "a delivered delivery is never claimed again"
    );

    // Racing claimers share the due deliveries without overlap.
    let racing: Vec<Delivery> = (0..RACERS).map(|_| delivery(&second, t0)).collect();
    store.insert_deliveries(&racing).await.unwrap();
    let claims = join_all((0..RACERS).map(|_| {
        let store = Arc::clone(&store);
        async move {
            store
                .claim_due_deliveries(much_later, much_later.plus(time::Duration::seconds(30)), 3)
                .await
                .unwrap()
        }
    }))
    .await;
    let mut seen = HashSet::new();
    for claim in claims.iter().flatten() {
        assert!(
            seen.insert(claim.id.clone()),
            "{} was claimed twice",
            claim.id
        );
    }
    for d in &racing {
        assert!(seen.contains(&d.id), "{} was never claimed", d.id);
    }

    // One delivery claimed by name, as a queue message claims it.
    let named_to = subscription(org.clone(), 4);
    store.insert_subscription(&named_to).await.unwrap();
    let made_at = t0.plus(time::Duration::seconds(10));
    let mut named = delivery(&named_to, made_at);
    store
        .insert_deliveries(std::slice::from_ref(&named))
        .await
        .unwrap();
    let lease_of = |at: Timestamp| at.plus(time::Duration::seconds(30));
    assert_eq!(
        store
            .claim_delivery(&named_to.id, &named.id, t0, lease_of(t0))
            .await
            .unwrap(),
        None,
        "not before it is due"
    );
    assert_eq!(
        store
            .claim_delivery(&other.id, &named.id, made_at, lease_of(made_at))
            .await
            .unwrap(),
        None,
        "only under its own subscription"
    );
    assert_eq!(
        store
            .claim_delivery(&named_to.id, &named.id, made_at, lease_of(made_at))
            .await
            .unwrap()
            .as_ref(),
        Some(&named),
        "a due, free delivery is leased by name"
    );
    assert_eq!(
        store
            .claim_delivery(&named_to.id, &named.id, made_at, lease_of(made_at))
            .await
            .unwrap(),
        None,
        "a leased delivery is not claimed again"
    );
    named.record(
        DeliveryAttempt {
            status: Some(200),
            ..failed(made_at)
        },
        &schedule,
        0.0,
    );
    store.record_delivery(&named).await.unwrap();
    let later = lease_of(made_at).plus(time::Duration::seconds(1));
    assert_eq!(
        store
            .claim_delivery(&named_to.id, &named.id, later, lease_of(later))
            .await
            .unwrap(),
        None,
        "a finished delivery is never claimed"
    );
    assert_eq!(
        store
            .claim_delivery(
                &named_to.id,
                &DeliveryId::generate(t0).expect("entropy"),
                later,
                lease_of(later)
            )
            .await
            .unwrap(),
        None,
        "a delivery that does not exist is not made by claiming it"
    );

    // Removing a subscription takes its pending deliveries, not its log.
    store.delete_subscription(&first.id).await.unwrap();
    assert_eq!(store.subscription(&first.id).await.unwrap(), None);
    assert_eq!(
        conflict(store.delete_subscription(&first.id).await),
        Conflict::Missing
    );
    assert_eq!(
        ids(&store.deliveries(&first.id, 10).await.unwrap()),
        vec![&made[1].id],
        "finished deliveries stay in the log; pending ones go"
    );
    assert_eq!(
        conflict(store.record_delivery(&retried).await),
        Conflict::Missing,
        "an attempt on a removed delivery is not written back"
    );
    let last = at("2026-12-31T00:00:00Z");
    let left = store
        .claim_due_deliveries(last, last.plus(time::Duration::seconds(30)), 100)
        .await
        .unwrap();
    assert!(
        left.iter().all(|d| d.subscription != first.id),
        "a removed subscription's deliveries are never claimed"
    );

    // Pruning drops finished deliveries made before the cut, nothing pending.
    let mut dead = elsewhere.clone();
    dead.state = DeliveryState::Dead;
    dead.next_attempt_at = None;
    store.record_delivery(&dead).await.unwrap();
    let pruned = store
        .prune_deliveries(t0.plus(time::Duration::seconds(2)))
        .await
        .unwrap();
    if age_out_by_themselves {
        assert_eq!(pruned, 0);
        return;
    }
    assert_eq!(
        pruned, 2,
        "the delivered and the dead delivery made before the cut"
    );
    assert!(store.deliveries(&first.id, 10).await.unwrap().is_empty());
    assert!(store.deliveries(&other.id, 10).await.unwrap().is_empty());
    assert_eq!(
        store.deliveries(&second.id, 100).await.unwrap().len(),
        RACERS,
        "pending deliveries are never pruned"
    );
}

/// Runs the checks that a change and its webhook deliveries commit together,
/// for every write that makes events (a registry plugin's versions, an org
/// catalog's rows, the routing table's removals): a write that succeeds leaves
/// its deliveries stored and claimable, one refused for a conflict leaves none.
/// `hooks` must see what the others write (one backend).
pub async fn deliveries_commit_with_their_change_contract(
    catalog: &dyn crate::store::CatalogStore,
    orgs: &dyn crate::store::OrgCatalogStore,
    router: &dyn crate::store::McpRouterStore,
    hooks: &dyn WebhookStore,
    prefix: &str,
) {
    use crate::store::{Deprecation, LatestSummary, VersionChange};

    let name = format!("{prefix}-told");
    let plugin = slug(&name);
    let owner = PrincipalId::from_stored("prn_owner");
    let to = subscription(HookScope::Plugin(plugin.clone()), 1);
    hooks.insert_subscription(&to).await.unwrap();
    let made = at("2026-12-01T11:00:00Z");
    let stored = || async {
        let mut found: Vec<DeliveryId> = hooks
            .deliveries(&to.id, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        found
    };
    let sorted = |mut told: Vec<&Delivery>| {
        told.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        told.into_iter().map(|d| d.id.clone()).collect::<Vec<_>>()
    };

    let first = sample_version(&name, "1.0.0");
    let created = delivery(&to, made);
    catalog
        .create_plugin(
            &plugin,
            &owner,
            &first,
            Some(&LatestSummary::of(&first)),
            std::slice::from_ref(&created),
        )
        .await
        .unwrap();
    assert_eq!(
        stored().await,
        sorted(vec![&created]),
        "created with the plugin"
    );

    let head = catalog.plugin_head(&plugin).await.unwrap().expect("plugin");
    let second = sample_version(&name, "1.1.0");
    let stale = delivery(&to, made);
    assert_eq!(
        conflict(
            catalog
                .add_version(
                    &plugin,
                    head.revision + 1,
                    &second,
                    Some(&LatestSummary::of(&second)),
                    std::slice::from_ref(&stale),
                )
                .await
        ),
        Conflict::RevisionChanged
    );
    let taken = delivery(&to, made);
    assert_eq!(
        conflict(
            catalog
                .add_version(
                    &plugin,
                    head.revision,
                    &first,
                    Some(&LatestSummary::of(&first)),
                    std::slice::from_ref(&taken),
                )
                .await
        ),
        Conflict::VersionExists
    );
    assert_eq!(
        stored().await,
        sorted(vec![&created]),
        "a refused version leaves none of its deliveries"
    );
    let added = delivery(&to, made);
    catalog
        .add_version(
            &plugin,
            head.revision,
            &second,
            Some(&LatestSummary::of(&second)),
            std::slice::from_ref(&added),
        )
        .await
        .unwrap();

    let head = catalog.plugin_head(&plugin).await.unwrap().expect("plugin");
    let deprecate = VersionChange::Deprecate(Deprecation {
        reason: "use 1.1.0".into(),
        replacement_version: Some(second.version.clone()),
        deprecated_at: made,
    });
    let latest = Some(LatestSummary::of(&second));
    let lost = delivery(&to, made);
    assert_eq!(
        conflict(
            catalog
                .change_version(
                    &plugin,
                    head.revision + 1,
                    &first.version,
                    &deprecate,
                    latest.as_ref(),
                    made,
                    std::slice::from_ref(&lost),
                )
                .await
        ),
        Conflict::RevisionChanged
    );
    // Two events of one change (an approval and its publication) go together.
    let (changed, also) = (delivery(&to, made), delivery(&to, made));
    catalog
        .change_version(
            &plugin,
            head.revision,
            &first.version,
            &deprecate,
            latest.as_ref(),
            made,
            &[changed.clone(), also.clone()],
        )
        .await
        .unwrap();
    let mut committed = vec![&created, &added, &changed, &also];

    // An org catalog's upload, and the decision on it.
    let scope = crate::catalog::CatalogScope::Org(
        OrgId::parse(&format!("{prefix}-told-org")).expect("org"),
    );
    let mut row = super::sample_catalog_row(&scope, &name, "1.0.0");
    row.review = Some(crate::review::ReviewState::Pending {
        submitted_at: made,
        checks: Vec::new(),
    });
    let uploaded = delivery(&to, made);
    orgs.insert_row(&row, std::slice::from_ref(&uploaded))
        .await
        .unwrap();
    let twice = delivery(&to, made);
    assert_eq!(
        conflict(orgs.insert_row(&row, std::slice::from_ref(&twice)).await),
        Conflict::AlreadyExists
    );
    let approved = delivery(&to, made);
    orgs.decide_row_review(&row.plugin_id, None, made, std::slice::from_ref(&approved))
        .await
        .unwrap();
    let again = delivery(&to, made);
    assert_eq!(
        conflict(
            orgs.decide_row_review(&row.plugin_id, None, made, std::slice::from_ref(&again))
                .await
        ),
        Conflict::RevisionChanged
    );
    committed.extend([&uploaded, &approved]);

    // The routing table's removal of a failing instance.
    let instance = super::sample_instance(&plugin, "told-1", "reg-1");
    router.insert_instance(&instance).await.unwrap();
    let removed = delivery(&to, made);
    router
        .remove_instance(
            &plugin,
            &instance.instance_id,
            Some("reg-1"),
            std::slice::from_ref(&removed),
        )
        .await
        .unwrap();
    let gone = delivery(&to, made);
    assert_eq!(
        conflict(
            router
                .remove_instance(
                    &plugin,
                    &instance.instance_id,
                    Some("reg-1"),
                    std::slice::from_ref(&gone),
                )
                .await
        ),
        Conflict::Missing
    );
    committed.push(&removed);

    let committed = sorted(committed);
    assert_eq!(
        stored().await,
        committed,
        "each change's deliveries, and only theirs"
    );

    // The queue finds them as it finds any other: due at once, whole.
    let claimed = hooks
        .claim_due_deliveries(made, at("2026-12-01T11:05:00Z"), 100)
        .await
        .unwrap();
    let mut claimed_ids: Vec<DeliveryId> = claimed
        .iter()
        .filter(|d| d.subscription == to.id)
        .map(|d| d.id.clone())
        .collect();
    claimed_ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(claimed_ids, committed);
    let read_back = claimed.iter().find(|d| d.id == added.id).expect("claimed");
    assert_eq!(read_back.body, added.body);
}
