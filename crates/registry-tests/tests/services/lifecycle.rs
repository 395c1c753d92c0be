//! Deprecation and unpublishing: the 72-hour window, the quiet week, and a
//! version string that is never used twice.

use registry_core::auth::Scope;
use registry_testkit::TestPlugin;

use crate::{Services, refusal};

#[tokio::test]
async fn unpublish_is_allowed_within_72_hours_then_only_deprecated_and_quiet() {
    let s = Services::start().await;
    let owner = s.caller("owner", &[Scope::Publish]).await;
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        s.publish(&owner, &TestPlugin::new("tide", version), None)
            .await
            .unwrap();
    }
    s.hours_pass(71);
    s.registry
        .unpublish_version(&owner, "tide", "1.2.0")
        .await
        .unwrap();
    assert_eq!(
        refusal(
            s.publish(&owner, &TestPlugin::new("tide", "1.2.0"), None)
                .await
        ),
        "VersionExists",
        "an unpublished version string stays taken"
    );
    assert_eq!(
        refusal(s.registry.plugin_details("tide", Some("1.2.0")).await),
        "VersionGone"
    );

    s.hours_pass(2);
    assert_eq!(
        refusal(s.registry.unpublish_version(&owner, "tide", "1.1.0").await),
        "UnpublishRefused",
        "past 72 hours a live version stays"
    );
    s.registry
        .deprecate_version(&owner, "tide", "1.0.0", "use 1.1.0", Some("1.1.0"))
        .await
        .unwrap();
    let download = s.registry.download_schema("tide", "1.0.0").await.unwrap();
    s.registry
        .count_download(
            &download.slug,
            &download.version,
            registry_core::downloads::DownloadClient::Other,
        )
        .await;
    assert_eq!(
        refusal(s.registry.unpublish_version(&owner, "tide", "1.0.0").await),
        "UnpublishRefused",
        "a deprecated version downloaded this week stays"
    );
    s.hours_pass(24 * 8);
    s.registry
        .unpublish_version(&owner, "tide", "1.0.0")
        .await
        .unwrap();
    let details = s.registry.plugin_details("tide", None).await.unwrap();
    assert_eq!(details.manifest.version.to_string(), "1.1.0");
    assert_eq!(
        details
            .versions
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["1.1.0"]
    );
}

#[tokio::test]
async fn the_latest_version_skips_deprecated_ones_and_prereleases() {
    let s = Services::start().await;
    let owner = s.caller("owner", &[Scope::Publish]).await;
    let latest = async || {
        s.registry
            .plugin_details("tide", None)
            .await
            .unwrap()
            .manifest
            .version
            .to_string()
    };
    s.publish(&owner, &TestPlugin::new("tide", "2.0.0-beta.1"), None)
        .await
        .unwrap();
    assert_eq!(
        latest().await,
        "2.0.0-beta.1",
        "a pre-release when nothing else exists"
    );
    s.publish(&owner, &TestPlugin::new("tide", "1.0.0"), None)
        .await
        .unwrap();
    s.publish(&owner, &TestPlugin::new("tide", "1.1.0"), None)
        .await
        .unwrap();
    assert_eq!(latest().await, "1.1.0", "a release over a pre-release");
    s.registry
        .deprecate_version(&owner, "tide", "1.1.0", "broken", None)
        .await
        .unwrap();
    assert_eq!(latest().await, "1.0.0", "not a deprecated one");
    s.registry
        .deprecate_version(&owner, "tide", "1.0.0", "broken too", None)
        .await
        .unwrap();
    assert_eq!(
        latest().await,
        "1.1.0",
        "the highest when every release is deprecated"
    );
}
