//! A registry that signs people in with the certified OpenID provider.

use openworkflow_registry::OidcSettings;
use registry_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, CertifiedProvider};

use crate::helpers::TestApp;

/// Starts the provider and a registry (public, on the backend under test) that
/// signs people in with it as `Certified provider`.
pub async fn registry_with_certified_provider() -> (TestApp, CertifiedProvider) {
    registry_with_certified_provider_where(false).await
}

/// As [`registry_with_certified_provider`], for a private registry when `private`.
pub async fn registry_with_certified_provider_where(private: bool) -> (TestApp, CertifiedProvider) {
    registry_with_certified_provider_configured(move |config| config.private = private).await
}

/// As [`registry_with_certified_provider`], with `configure` applied first.
pub async fn registry_with_certified_provider_configured(
    configure: impl FnOnce(&mut openworkflow_registry::ServerConfig) + Send + 'static,
) -> (TestApp, CertifiedProvider) {
    let mut provider = CertifiedProvider::start();
    let issuer = provider.issuer.clone();
    let app = TestApp::spawn_configured(move |config| {
        configure(config);
        config.sign_in.oidc = Some(OidcSettings {
            id: "oidc".to_owned(),
            display_name: "Certified provider".to_owned(),
            issuer,
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
        });
    })
    .await;
    provider.serve_for(&format!("{}/auth/callback/oidc", app.base));
    (app, provider)
}
