//! Judging an instance's answer to a health check: the spec's shape and nothing else.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::version::PluginVersion;

/// Most entries of `checks` kept from one answer.
pub const MAX_CHECKS: usize = 64;

/// The spec's health answer: `{"status": "ok", "version": "1.0.0", "checks": {...}}`.
/// Other fields are ignored, so an instance may say more.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HealthResponse {
    /// Must be `ok`.
    pub status: String,
    /// Must be the version the instance registered.
    pub version: String,
    /// Named sub-checks and their states, as strings.
    #[serde(default)]
    pub checks: BTreeMap<String, String>,
}

/// Whether an instance's answer to a check passes: HTTP 200 carrying the spec's
/// JSON with `status: ok` and the registered `version`. Returns the reported
/// `checks` when it passes and why it does not otherwise.
pub fn judge_health_response(
    status: u16,
    body: &[u8],
    expected: &PluginVersion,
) -> Result<BTreeMap<String, String>, String> {
    if (300..400).contains(&status) {
        return Err(format!(
            "answered HTTP {status} (a redirect); health checks do not follow redirects"
        ));
    }
    if status != 200 {
        return Err(format!("answered HTTP {status}, expected 200"));
    }
    let answer: HealthResponse = serde_json::from_slice(body).map_err(|e| {
        format!(
            "answer is not the health JSON {{\"status\": \"ok\", \"version\": ..., \"checks\": {{...}}}}: {e}"
        )
    })?;
    if answer.status != "ok" {
        return Err(format!(
            "reported status {:?}, expected \"ok\"",
            answer.status
        ));
    }
    match PluginVersion::parse(&answer.version) {
        Ok(reported) if &reported == expected => {}
        _ => {
            return Err(format!(
                "reported version {:?}, but the instance registered {expected}",
                answer.version
            ));
        }
    }
    if answer.checks.len() > MAX_CHECKS {
        return Err(format!(
            "reported {} checks; at most {MAX_CHECKS} are accepted",
            answer.checks.len()
        ));
    }
    Ok(answer.checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(raw: &str) -> PluginVersion {
        PluginVersion::parse(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_spec_example_passes() {
        let body = br#"{"status":"ok","version":"1.0.0","checks":{"external_api":"healthy","database":"healthy"}}"#;
        let checks =
            judge_health_response(200, body, &v("1.0.0")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checks.get("database").map(String::as_str), Some("healthy"));
        assert!(
            judge_health_response(200, br#"{"status":"ok","version":"1.0.0"}"#, &v("1.0.0"))
                .is_ok()
        );
    }

    #[test]
    fn anything_else_fails_with_the_reason() {
        let cases: [(u16, &[u8], &str); 7] = [
            (500, b"{}", "HTTP 500"),
            (302, b"", "redirect"),
            (200, b"<html>ok</html>", "not the health JSON"),
            (
                200,
                br#"{"status":"degraded","version":"1.0.0"}"#,
                "degraded",
            ),
            (200, br#"{"status":"ok","version":"1.1.0"}"#, "1.1.0"),
            (200, br#"{"status":"ok"}"#, "version"),
            (
                200,
                br#"{"status":"ok","version":"1.0.0","checks":{"db":{"up":true}}}"#,
                "not the health JSON",
            ),
        ];
        for (status, body, reason) in cases {
            let verdict = judge_health_response(status, body, &v("1.0.0"));
            assert!(
                verdict.as_ref().is_err_and(|why| why.contains(reason)),
                "{status} {:?}: {verdict:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
