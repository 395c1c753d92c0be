//! Publishing and updating: who may, and which versions.

use registry_core::auth::Scope;
use registry_testkit::TestPlugin;

use crate::{Services, refusal};

#[tokio::test]
async fn publish_and_update_follow_the_version_and_ownership_rules() {
    let s = Services::start().await;
    let owner = s.caller("owner", &[Scope::Publish]).await;
    let other = s.caller("other", &[Scope::Publish]).await;
    let reader = s.caller("reader", &[Scope::Read]).await;
    let v = |version: &str| TestPlugin::new("weather", version);
    s.publish(&owner, &v("1.0.0"), None).await.unwrap();

    let table = [
        (
            "the same version again",
            refusal(s.publish(&owner, &v("1.0.0"), None).await),
            "VersionExists",
        ),
        (
            "a new slug without publish",
            refusal(
                s.publish(&reader, &TestPlugin::new("fresh", "1.0.0"), None)
                    .await,
            ),
            "MissingScope",
        ),
        (
            "another principal's slug",
            refusal(s.publish(&other, &v("2.0.0"), None).await),
            "Forbidden",
        ),
        (
            "an update that is not greater",
            refusal(s.publish(&owner, &v("0.9.0"), Some("weather")).await),
            "VersionNotIncremented",
        ),
        (
            "an update of an unknown plugin",
            refusal(
                s.publish(&owner, &TestPlugin::new("ghost", "1.0.0"), Some("ghost"))
                    .await,
            ),
            "PluginNotFound",
        ),
        (
            "an update whose slug is not the path's",
            refusal(s.publish(&owner, &v("1.1.0"), Some("ghost")).await),
            "Invalid",
        ),
        (
            "a reserved slug",
            refusal(
                s.publish(&owner, &TestPlugin::new("search", "1.0.0"), None)
                    .await,
            ),
            "Invalid",
        ),
    ];
    for (case, got, expected) in table {
        assert_eq!(got, expected, "{case}");
    }

    let updated = s
        .publish(&owner, &v("1.1.0"), Some("weather"))
        .await
        .unwrap();
    assert_eq!(
        updated.previous_version.map(|v| v.to_string()).as_deref(),
        Some("1.0.0")
    );
    let details = s.registry.plugin_details("weather", None).await.unwrap();
    assert_eq!(details.manifest.version.to_string(), "1.1.0");
}
