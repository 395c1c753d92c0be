//! The report port's contract: reports read back whole, newest first; an open
//! report closes once, however many admins race to close it.

use std::sync::Arc;

use super::{at, conflict, exactly_one_wins, slug};
use crate::auth::PrincipalId;
use crate::moderation::{PluginReport, ReportId, ReportReason, Resolution};
use crate::store::{Conflict, ReportStore};
use crate::version::PluginVersion;

fn report(n: usize, prefix: &str) -> PluginReport {
    PluginReport {
        id: ReportId::generate().expect("entropy"),
        slug: slug(&format!("{prefix}-reported-{n}")),
        version: n
            .is_multiple_of(2)
            .then(|| PluginVersion::parse("1.0.0").expect("version")),
        reason: ReportReason::Malware,
        details: format!("report {n}: it reads \"~/.ssh\"\nand sends it away"),
        reporter: PrincipalId::from_stored("prn_reporter"),
        created_at: at(&format!("2026-05-01T10:00:{n:02}Z")),
        resolution: None,
    }
}

fn resolution(note: &str) -> Resolution {
    Resolution {
        by: PrincipalId::from_stored("prn_admin"),
        at: at("2026-05-02T09:00:00Z"),
        note: note.to_owned(),
    }
}

fn ids(reports: &[PluginReport]) -> Vec<&ReportId> {
    reports.iter().map(|r| &r.id).collect()
}

/// Runs every report-store check against an empty store.
pub async fn report_store_contract(store: Arc<dyn ReportStore>, prefix: &str) {
    assert!(store.reports(false, 10).await.unwrap().is_empty());
    let made: Vec<PluginReport> = (0..4).map(|n| report(n, prefix)).collect();
    for r in &made {
        store.insert_report(r).await.unwrap();
    }
    assert_eq!(
        store.report(&made[1].id).await.unwrap().as_ref(),
        Some(&made[1]),
        "a report reads back whole"
    );
    assert_eq!(
        conflict(store.insert_report(&made[0]).await),
        Conflict::AlreadyExists,
        "a report is never overwritten"
    );
    let open = store.reports(true, 10).await.unwrap();
    assert_eq!(
        ids(&open),
        vec![&made[3].id, &made[2].id, &made[1].id, &made[0].id],
        "open reports, newest first"
    );
    assert_eq!(
        ids(&store.reports(true, 2).await.unwrap()),
        vec![&made[3].id, &made[2].id],
        "limit"
    );

    let closed = resolution("quarantined; thanks");
    store.resolve_report(&made[2].id, &closed).await.unwrap();
    assert_eq!(
        ids(&store.reports(true, 10).await.unwrap()),
        vec![&made[3].id, &made[1].id, &made[0].id],
        "a closed report leaves the open list"
    );
    let every = store.reports(false, 10).await.unwrap();
    assert_eq!(
        ids(&every),
        vec![&made[3].id, &made[2].id, &made[1].id, &made[0].id],
        "every report, open or closed, newest first"
    );
    assert_eq!(every[1].resolution.as_ref(), Some(&closed));
    assert_eq!(
        conflict(
            store
                .resolve_report(&made[2].id, &resolution("again"))
                .await
        ),
        Conflict::Missing,
        "a closed report closes once"
    );
    assert_eq!(
        store.report(&made[2].id).await.unwrap().unwrap().resolution,
        Some(closed),
        "the first resolution stands"
    );
    assert_eq!(
        conflict(
            store
                .resolve_report(
                    &ReportId::from_stored("rpt_0000000000000000"),
                    &resolution("x")
                )
                .await
        ),
        Conflict::Missing
    );

    let contested = made[0].id.clone();
    exactly_one_wins(
        |i| {
            let store = Arc::clone(&store);
            let id = contested.clone();
            async move {
                store
                    .resolve_report(&id, &resolution(&format!("admin {i}")))
                    .await
            }
        },
        Conflict::Missing,
        "of admins closing one report at once, one closes it",
    )
    .await;
}
