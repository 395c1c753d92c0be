//! `/metrics`: the process's metrics in the Prometheus text format, read back by
//! a Prometheus text parser. Metrics are the process's, and the suite runs many
//! servers in one process at once, so each check is on how much a figure grew
//! across this test's own requests (at least what they add).

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue, Sample};
use reqwest::StatusCode;

use crate::helpers::{TestApp, TestPlugin, backend_under_test};

/// A scrape, as a Prometheus text-format parser reads it.
pub(crate) type Scrape = MetricsExposition<PrometheusType, PrometheusValue>;

/// `/metrics`, parsed.
pub(crate) async fn scrape(app: &TestApp) -> Scrape {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    // Nothing recorded yet is an empty exposition, which this parser refuses.
    if text.trim().is_empty() {
        return Scrape::new();
    }
    parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("not the Prometheus text format: {e:?}\n{text}"))
}

/// The samples of the family `name` whose labels include `labels`.
fn matching<'a>(
    scrape: &'a Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<&'a Sample<PrometheusValue>> {
    scrape.families.get(name).map_or_else(Vec::new, |family| {
        family
            .iter_samples()
            .filter(|sample| {
                let set = sample.get_labelset().unwrap();
                labels
                    .iter()
                    .all(|(label, value)| set.get_label_value(label) == Some(*value))
            })
            .collect()
    })
}

/// The sum of the counters or gauges named `name` with these labels.
pub(crate) fn total(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    matching(scrape, name, labels)
        .into_iter()
        .map(|s| match &s.value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
            other => panic!("{name} is not a counter or gauge: {other:?}"),
        })
        .sum()
}

/// How many observations the histograms named `name` with these labels hold.
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    matching(scrape, name, labels)
        .into_iter()
        .map(|s| match &s.value {
            PrometheusValue::Histogram(h) => h.count.unwrap_or(0) as f64,
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .sum()
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_publishes_and_index_updates() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    let published = app
        .publish_yaml(&app.admin_key, &TestPlugin::new("metered", "1.0.0").yaml())
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);
    for _ in 0..2 {
        assert_eq!(app.get("/plugins/metered").await.status(), StatusCode::OK);
    }
    assert_eq!(
        app.get("/plugins/no-such-plugin").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/no/such/route").await.status(),
        StatusCode::NOT_FOUND
    );
    let after = scrape(&app).await;

    let grew = |name: &str, labels: &[(&str, &str)]| {
        total(&after, name, labels) - total(&before, name, labels)
    };
    let details = [("method", "GET"), ("route", "/plugins/{slug}")];
    assert!(
        grew(
            "http_requests_total",
            &[details[0], details[1], ("status", "200")]
        ) >= 2.0
    );
    assert!(
        grew(
            "http_requests_total",
            &[details[0], details[1], ("status", "404")]
        ) >= 1.0
    );
    assert!(
        grew(
            "http_requests_total",
            &[("method", "POST"), ("route", "/plugins"), ("status", "201")]
        ) >= 1.0
    );
    assert!(
        grew(
            "http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0,
        "a path no route matches is counted under one label, not its own"
    );
    assert!(
        after
            .families
            .values()
            .all(|family| family.iter_samples().all(|s| s
                .get_labelset()
                .unwrap()
                .get_label_value("route")
                != Some("/no/such/route"))),
        "raw paths never become labels"
    );
    assert!(
        observations(&after, "http_request_duration_seconds", &details)
            - observations(&before, "http_request_duration_seconds", &details)
            >= 3.0
    );
    assert!(grew("registry_publishes_total", &[]) >= 1.0);
    assert!(grew("registry_index_updates_total", &[("outcome", "ok")]) >= 1.0);
    assert!(
        observations(&after, "registry_index_lag_seconds", &[])
            > observations(&before, "registry_index_lag_seconds", &[])
    );
    if backend_under_test() == crate::helpers::TestBackend::Postgres {
        assert!(total(&after, "registry_db_pool_max_connections", &[]) >= 1.0);
        assert!(!matching(&after, "registry_db_pool_connections", &[("state", "idle")]).is_empty());
    }
}
