//! What every page shares: where the registry lives and its assets.

use crate::assets::site_assets;

/// Media type of every page.
pub const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// The policy every page is served with (and carries in a `<meta>` element, so a
/// copy served without the header is held to it too): nothing but the registry's
/// own stylesheet, script and images, no inline script or style, no frames.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The policy schema and bundle downloads are sent with: strangers upload them to
/// the origin that serves the pages, so one a browser renders anyway runs in a
/// sandbox with nothing allowed.
pub const DOWNLOAD_CONTENT_SECURITY_POLICY: &str = "sandbox; default-src 'none'";

/// The registry the pages belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// URL path the registry is served under (`""`, or `/registry`): links are
    /// root-relative, so a page works under any host name that reaches it.
    pub(crate) base: String,
    /// The stylesheet's URL path.
    pub(crate) stylesheet: String,
    /// The script's URL path.
    pub(crate) script: String,
}

impl Site {
    /// The site of a registry whose public URL is `public_url`.
    pub fn new(public_url: &str) -> Self {
        let base = url::Url::parse(public_url)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let [stylesheet, script] = site_assets();
        Self {
            stylesheet: format!("{base}/{}", stylesheet.key()),
            script: format!("{base}/{}", script.key()),
            base,
        }
    }

    /// The URL path the registry is served under (`""` at the root).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL path of a plugin's page (its latest version).
    pub(crate) fn plugin_url(&self, slug: &str) -> String {
        format!("{}/plugins/{slug}", self.base)
    }

    /// The URL path of one version's page.
    pub(crate) fn version_url(&self, slug: &str, version: &str) -> String {
        format!("{}/plugins/{slug}?version={version}", self.base)
    }

    /// The URL path of a plugin's downloads chart.
    pub fn downloads_chart_url(&self, slug: &str) -> String {
        format!("{}/index/plugins/{slug}/downloads.svg", self.base)
    }

    /// The URL path of the search for a tag.
    pub(crate) fn tag_url(&self, tag: &str) -> String {
        let mut url = format!("{}/search?", self.base);
        url.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("tag", tag)
                .finish(),
        );
        url
    }

    /// The URL path of one page of a search.
    pub(crate) fn search_page_url(
        &self,
        q: Option<&str>,
        tag: Option<&str>,
        page: usize,
    ) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(q) = q {
            query.append_pair("q", q);
        }
        if let Some(tag) = tag {
            query.append_pair("tag", tag);
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            self.search_url()
        } else {
            format!("{}?{query}", self.search_url())
        }
    }

    /// The URL path of the search page.
    pub(crate) fn search_url(&self) -> String {
        format!("{}/search", self.base)
    }

    /// The URL path that starts signing in with `provider`.
    pub(crate) fn sign_in_url(&self, provider: &str) -> String {
        format!("{}/auth/login/{provider}", self.base)
    }

    /// The URL path signing out posts to.
    pub(crate) fn sign_out_url(&self) -> String {
        format!("{}/auth/logout", self.base)
    }

    /// The URL path of the device sign-in page.
    pub(crate) fn device_url(&self) -> String {
        format!("{}/device", self.base)
    }

    /// The URL path of the account page.
    pub fn account_url(&self) -> String {
        format!("{}/account", self.base)
    }

    /// The URL path a new key's form posts to.
    pub(crate) fn create_key_url(&self) -> String {
        format!("{}/account/keys", self.base)
    }

    /// The URL path revoking a key posts to.
    pub(crate) fn revoke_key_url(&self, key_id: &str) -> String {
        format!("{}/account/keys/{key_id}/revoke", self.base)
    }

    /// The URL path answering an invitation posts to (`accept` or `decline`).
    pub(crate) fn invitation_url(&self, slug: &str, invitee: &str, answer: &str) -> String {
        format!(
            "{}/account/invitations/{slug}/{invitee}/{answer}",
            self.base
        )
    }

    /// The URL path of a plugin's audit-log page (for its owners).
    pub(crate) fn plugin_audit_page_url(&self, slug: &str) -> String {
        format!("{}/account/plugins/{slug}/audit", self.base)
    }

    /// The URL path of the page listing the reviews of a person's plugins.
    pub fn review_queue_url(&self) -> String {
        format!("{}/account/reviews", self.base)
    }

    /// The URL path of one review's page.
    pub fn review_page_url(&self, id: &str) -> String {
        format!("{}/account/reviews/{id}", self.base)
    }

    /// The URL path a reviewer's decision on one review posts to.
    pub(crate) fn review_decision_url(&self, id: &str) -> String {
        format!("{}/account/reviews/{id}/decision", self.base)
    }

    /// The URL path running one check of a review again posts to.
    pub(crate) fn check_rerun_url(&self, id: &str, check: &str) -> String {
        format!("{}/account/reviews/{id}/checks/{check}/rerun", self.base)
    }

    /// The URL path downloading what a review holds (`schema` or `bundle`)
    /// with the session.
    pub(crate) fn review_artifact_url(&self, id: &str, what: &str) -> String {
        format!("{}/account/reviews/{id}/{what}", self.base)
    }

    /// The URL path a decision on an org's held upload posts to.
    pub(crate) fn org_review_decision_url(&self, org: &str, plugin_id: &str) -> String {
        format!(
            "{}/account/orgs/{org}/reviews/{plugin_id}/decision",
            self.base
        )
    }

    /// The URL path of a plugin's analytics page (for its owners).
    pub(crate) fn plugin_analytics_page_url(&self, slug: &str) -> String {
        format!("{}/account/plugins/{slug}/analytics", self.base)
    }

    /// The URL path the form lifting a plugin's lock to trusted publishing posts to.
    pub(crate) fn plugin_unlock_url(&self, slug: &str) -> String {
        format!("{}/account/plugins/{slug}/unlock", self.base)
    }

    /// The URL path a new team's form posts to.
    pub(crate) fn create_team_url(&self) -> String {
        format!("{}/account/teams", self.base)
    }

    /// The URL path deleting the account posts to.
    pub(crate) fn delete_account_url(&self) -> String {
        format!("{}/account/delete", self.base)
    }

    /// The URL path of an org's catalog page, showing only `tag` when given.
    pub(crate) fn org_catalog_url(&self, org: &str, tag: Option<&str>) -> String {
        let page = format!("{}/account/orgs/{org}", self.base);
        match tag {
            None => page,
            Some(tag) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("tag", tag)
                    .finish();
                format!("{page}?{query}")
            }
        }
    }

    /// The URL path of an org catalog plugin's page: its versions, and the
    /// settings form of `version` (else of the version the list shows).
    pub(crate) fn org_plugin_url(
        &self,
        org: &str,
        pid: &str,
        source: &str,
        version: Option<&str>,
    ) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("source", source);
        if let Some(version) = version {
            query.append_pair("version", version);
        }
        format!(
            "{}/account/orgs/{org}/plugins/{pid}?{}",
            self.base,
            query.finish()
        )
    }

    /// The URL path enabling or disabling an org catalog plugin posts to.
    pub(crate) fn org_enablement_url(&self, org: &str) -> String {
        format!("{}/account/orgs/{org}/enablement", self.base)
    }

    /// The URL path of the home page.
    pub(crate) fn home_url(&self) -> String {
        format!("{}/", self.base)
    }
}

/// What the layout needs of the site, borrowed by every page's template.
pub(crate) struct Chrome<'a> {
    pub(crate) site: &'a Site,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) csp: &'static str,
    /// The search box's current text.
    pub(crate) query: String,
}

impl<'a> Chrome<'a> {
    pub(crate) fn new(site: &'a Site, title: String, description: String) -> Self {
        Self {
            site,
            title,
            description,
            csp: CONTENT_SECURITY_POLICY,
            query: String::new(),
        }
    }

    pub(crate) fn home_url(&self) -> String {
        self.site.home_url()
    }

    pub(crate) fn search_url(&self) -> String {
        self.site.search_url()
    }

    pub fn account_url(&self) -> String {
        self.site.account_url()
    }
}
