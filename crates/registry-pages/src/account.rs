//! The pages of signing in and of a signed-in person's account. Unlike the
//! catalog's pages they are rendered per request, never stored in the index, and
//! every form on them carries the session's anti-forgery token.

use askama::Template;
use registry_core::registry::{
    InvitationInfo, KeyInfo, OrgInfo, OwnedPlugin, ProviderChoice, TeamMembership,
};
use registry_core::timestamp::Timestamp;

use crate::RenderError;
use crate::site::{Chrome, Site};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    chrome: Chrome<'a>,
    /// (URL, provider name) of each way to sign in.
    providers: Vec<(String, String)>,
    message: Option<&'a str>,
}

/// The sign-in page: one button per provider, each returning to `return_to`;
/// `message` says why the last attempt failed, if one did.
pub fn sign_in_page(
    site: &Site,
    providers: &[ProviderChoice],
    return_to: &str,
    message: Option<&str>,
) -> Result<String, RenderError> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    SignInPage {
        chrome: Chrome::new(
            site,
            "Sign in · OpenWorkflow plugins".to_owned(),
            "Sign in to publish plugins and manage your API keys.".to_owned(),
        ),
        providers: providers
            .iter()
            .map(|p| {
                (
                    format!("{}?{query}", site.sign_in_url(&p.id)),
                    p.name.clone(),
                )
            })
            .collect(),
        message,
    }
    .render()
    .map_err(RenderError::of("sign-in"))
}

/// A key as the account page lists it.
struct KeyRow {
    id: String,
    name: String,
    scopes: String,
    plugins: String,
    created: String,
    expires: String,
    last_used: String,
    state: &'static str,
    live: bool,
    revoke_url: String,
}

/// A plugin as the account page lists it.
struct PluginRow {
    slug: String,
    url: String,
    audit_url: String,
    analytics_url: String,
    via: Option<String>,
    /// Where the form lifting its lock to trusted publishing posts, when locked.
    unlock_url: Option<String>,
}

/// An invitation as the account page lists it.
struct InvitationRow {
    slug: String,
    invitee: String,
    transfer: bool,
    expires: String,
    accept_url: String,
    decline_url: String,
}

/// What the account page shows.
pub struct AccountView<'a> {
    /// The person's login name.
    pub login: &'a str,
    /// Their principal id: what an owner invites them by.
    pub principal: &'a str,
    /// The session's anti-forgery token, put in every form.
    pub csrf_token: &'a str,
    /// Their keys, oldest first.
    pub keys: &'a [KeyInfo],
    /// A key just made: (its name, its secret), shown this once.
    pub created: Option<(&'a str, &'a str)>,
    /// The plugins they own, in person or through a team.
    pub plugins: &'a [OwnedPlugin],
    /// Invitations they may answer.
    pub invitations: &'a [InvitationInfo],
    /// Their teams.
    pub teams: &'a [TeamMembership],
    /// The orgs they belong to.
    pub orgs: &'a [OrgInfo],
    /// The verified e-mail address their provider gave at their last sign-in.
    pub email: Option<&'a str>,
    /// Whether this registry e-mails notices (to that address).
    pub sends_notices: bool,
    /// What the last form did, if it did something worth saying.
    pub notice: Option<&'a str>,
    /// What was wrong with the last form, if anything.
    pub error: Option<&'a str>,
    /// How many versions and uploads wait for their decision, for a person who
    /// reviews (the registry's queue or an org's); `None` for anyone else.
    pub awaiting_review: Option<usize>,
    /// Now, to tell live keys from expired ones.
    pub now: Timestamp,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    chrome: Chrome<'a>,
    view: &'a AccountView<'a>,
    keys: Vec<KeyRow>,
    plugins: Vec<PluginRow>,
    invitations: Vec<InvitationRow>,
    /// (URL of its catalog page, name, id) of each org.
    orgs: Vec<(String, String, String)>,
    create_key_url: String,
    create_team_url: String,
    delete_account_url: String,
    sign_out_url: String,
    reviews_url: String,
    default_days: u32,
    max_days: u32,
}

fn day(at: Timestamp) -> String {
    at.day().to_string()
}

/// The account page of a signed-in person.
pub fn account_page(site: &Site, view: &AccountView<'_>) -> Result<String, RenderError> {
    let keys = view
        .keys
        .iter()
        .map(|k| {
            let state = if k.revoked_at.is_some() {
                "revoked"
            } else if k.expires_at.is_some_and(|at| at <= view.now) {
                "expired"
            } else {
                "live"
            };
            KeyRow {
                id: k.id.to_string(),
                name: k.name.clone(),
                scopes: k
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                plugins: k
                    .plugins
                    .as_ref()
                    .map_or_else(|| "all".to_owned(), |p| p.join(", ")),
                created: day(k.created_at),
                expires: k.expires_at.map_or_else(|| "never".to_owned(), day),
                last_used: k.last_used_at.map_or_else(|| "never".to_owned(), day),
                state,
                live: state == "live",
                revoke_url: site.revoke_key_url(k.id.as_str()),
            }
        })
        .collect();
    let plugins = view
        .plugins
        .iter()
        .map(|p| PluginRow {
            slug: p.slug.to_string(),
            url: site.plugin_url(p.slug.as_str()),
            audit_url: site.plugin_audit_page_url(p.slug.as_str()),
            analytics_url: site.plugin_analytics_page_url(p.slug.as_str()),
            via: p.via_team.as_ref().map(|(_, name)| name.clone()),
            unlock_url: p.locked.then(|| site.plugin_unlock_url(p.slug.as_str())),
        })
        .collect();
    let invitations = view
        .invitations
        .iter()
        .map(|i| InvitationRow {
            slug: i.slug.clone(),
            invitee: i.invitee_name.clone(),
            transfer: i.transfer,
            expires: day(i.expires_at),
            accept_url: site.invitation_url(&i.slug, i.invitee.as_str(), "accept"),
            decline_url: site.invitation_url(&i.slug, i.invitee.as_str(), "decline"),
        })
        .collect();
    AccountPage {
        chrome: Chrome::new(
            site,
            format!("{} · OpenWorkflow plugins", view.login),
            String::new(),
        ),
        view,
        keys,
        plugins,
        invitations,
        orgs: view
            .orgs
            .iter()
            .map(|o| {
                (
                    site.org_catalog_url(o.id.as_str(), None),
                    o.name.clone(),
                    o.id.to_string(),
                )
            })
            .collect(),
        create_team_url: site.create_team_url(),
        delete_account_url: site.delete_account_url(),
        create_key_url: site.create_key_url(),
        sign_out_url: site.sign_out_url(),
        reviews_url: site.review_queue_url(),
        default_days: registry_core::registry::DEFAULT_KEY_LIFETIME_DAYS,
        max_days: registry_core::registry::MAX_KEY_LIFETIME_DAYS,
    }
    .render()
    .map_err(RenderError::of("account"))
}

/// What the device sign-in page shows.
pub struct DeviceView<'a> {
    /// The signed-in person's login name.
    pub login: &'a str,
    /// The session's anti-forgery token.
    pub csrf_token: &'a str,
    /// The code as the person gave it (empty: ask for it).
    pub user_code: &'a str,
    /// The key name the waiting device asked for, once the code is known.
    pub key_name: Option<&'a str>,
    /// What was decided, once it was.
    pub outcome: Option<&'a str>,
    /// What is wrong with the code, if anything.
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage<'a> {
    chrome: Chrome<'a>,
    view: &'a DeviceView<'a>,
    action: String,
}

/// The page a person confirms a terminal's sign-in on.
pub fn device_page(site: &Site, view: &DeviceView<'_>) -> Result<String, RenderError> {
    DevicePage {
        chrome: Chrome::new(
            site,
            "Sign in a terminal · OpenWorkflow plugins".to_owned(),
            String::new(),
        ),
        view,
        action: site.device_url(),
    }
    .render()
    .map_err(RenderError::of("device"))
}
