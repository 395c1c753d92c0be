//! Which providers an operator turned on, and building them.

use std::sync::Arc;

use registry_core::account::IdentityProvider;

use crate::github::{GitHubEndpoints, GitHubProvider};
use crate::http::ProviderHttp;
use crate::oidc::{OidcProvider, OidcSettings};

/// GitHub sign-in: an OAuth app's credentials, and where GitHub is (github.com,
/// or a GitHub Enterprise Server).
#[derive(Clone, PartialEq, Eq)]
pub struct GitHubSettings {
    /// The OAuth app's client id.
    pub client_id: String,
    /// The OAuth app's client secret.
    pub client_secret: String,
    /// GitHub's web address (`https://github.com`, or a GitHub Enterprise
    /// Server's): the sign-in pages and the issuer of its identities.
    pub web_url: String,
    /// Its REST API (`https://api.github.com`, or `{web_url}/api/v3`).
    pub api_url: String,
}

impl std::fmt::Debug for GitHubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .field("web_url", &self.web_url)
            .field("api_url", &self.api_url)
            .finish()
    }
}

/// The sign-in providers configured; none means nobody signs in (keys only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInSettings {
    /// An OpenID Connect provider.
    pub oidc: Option<OidcSettings>,
    /// GitHub.
    pub github: Option<GitHubSettings>,
}

impl SignInSettings {
    /// Whether any provider is configured.
    pub fn any(&self) -> bool {
        self.oidc.is_some() || self.github.is_some()
    }

    /// The configured providers, OpenID Connect first; nothing is fetched yet.
    pub fn providers(&self) -> Result<Vec<Arc<dyn IdentityProvider>>, String> {
        let http = ProviderHttp::new().map_err(|e| format!("building the HTTP client: {e}"))?;
        let mut providers: Vec<Arc<dyn IdentityProvider>> = Vec::new();
        if let Some(oidc) = &self.oidc {
            providers.push(Arc::new(OidcProvider::new(oidc.clone(), http.clone())?));
        }
        if let Some(github) = &self.github {
            let web = github.web_url.trim_end_matches('/');
            providers.push(Arc::new(GitHubProvider::new(
                github.client_id.clone(),
                github.client_secret.clone(),
                web.to_owned(),
                GitHubEndpoints {
                    authorize_url: format!("{web}/login/oauth/authorize"),
                    token_url: format!("{web}/login/oauth/access_token"),
                    api_url: github.api_url.clone(),
                },
                http,
            )));
        }
        Ok(providers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_never_print_their_secrets() {
        let settings = SignInSettings {
            oidc: Some(OidcSettings {
                id: "oidc".to_owned(),
                display_name: "IdP".to_owned(),
                issuer: "https://id.example".to_owned(),
                client_id: "registry".to_owned(),
                client_secret: "oidc-secret-value".to_owned(),
            }),
            github: Some(GitHubSettings {
                client_id: "gh".to_owned(),
                client_secret: "github-secret-value".to_owned(),
                web_url: "https://github.com".to_owned(),
                api_url: "https://api.github.com".to_owned(),
            }),
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("secret-value"), "{printed}");
        assert!(printed.contains("https://id.example"));
    }
}
