//! The registry's domain errors. The HTTP edge maps each variant to one status and
//! one stable problem code; nothing here knows about HTTP.

use crate::bundle::BundleError;
use crate::manifest::{DocumentFormat, FieldError};
use crate::store::StorageError;

/// Media type of RFC 9457 problem documents.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Base of every problem `type` URI; the code, with `_` as `-`, is appended.
pub const PROBLEM_TYPE_BASE: &str = "https://registry.openworkflowspec.org/problems/";

/// Everything a registry operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No credentials, or credentials that are not a live key.
    #[error("{detail}")]
    Unauthenticated {
        /// What was wrong with the credentials.
        detail: String,
    },
    /// A key that was valid and has expired.
    #[error("this API key expired at {expired_at}; create a new one")]
    KeyExpired {
        /// When it expired.
        expired_at: crate::timestamp::Timestamp,
    },
    /// This registry has no sign-in provider by that name (or none at all).
    #[error("{detail}")]
    SignInUnavailable {
        /// Which provider, and what there is instead.
        detail: String,
    },
    /// A sign-in could not be completed: the person should start again.
    #[error("{detail}")]
    SignInRefused {
        /// A stable problem code naming what failed (`sign_in_state_mismatch`,
        /// `id_token_invalid`, …).
        code: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The sign-in provider could not be reached or answered nonsense.
    #[error("the sign-in provider could not be reached: {detail}; try again shortly")]
    SignInProviderFailed {
        /// What went wrong.
        detail: String,
    },
    /// A device sign-in cannot give its key (yet): RFC 8628's answers
    /// (`authorization_pending`, `slow_down`, `expired_token`, `access_denied`,
    /// `invalid_grant`), and an unknown user code (`user_code_unknown`).
    #[error("{detail}")]
    DeviceFlow {
        /// The answer's code.
        code: &'static str,
        /// What it means for the person or the CLI.
        detail: String,
    },
    /// A form was posted without this session's anti-forgery token.
    #[error("the form's anti-forgery token is missing or wrong; reload the page and try again")]
    CsrfRejected,
    /// The key is valid but lacks a needed scope.
    #[error("this API key lacks the '{needed}' scope")]
    MissingScope {
        /// The scope needed.
        needed: crate::auth::Scope,
    },
    /// The key is limited to other plugins.
    #[error(
        "this key may act only on {}; make a key for '{slug}' (or one without a plugin limit)",
        .allowed.join(", ")
    )]
    KeyNotForPlugin {
        /// The plugin it tried to act on.
        slug: String,
        /// The plugins it is limited to.
        allowed: Vec<String>,
    },
    /// The caller may not act on something owned by another principal.
    #[error("{detail}")]
    Forbidden {
        /// What was refused.
        detail: String,
    },
    /// A request parameter is malformed.
    #[error("invalid {name}: {detail}")]
    InvalidParameter {
        /// Which parameter.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A day or week range reaches back before the daily counters kept.
    #[error("{detail}")]
    RangeBeyondRetention {
        /// The retention and what to ask instead.
        detail: String,
    },
    /// The document is not well-formed JSON or YAML.
    #[error("the {format:?} document could not be parsed: {detail}")]
    MalformedDocument {
        /// Its claimed format.
        format: DocumentFormat,
        /// What the parser said.
        detail: String,
    },
    /// The document or request parsed but breaks the rules, field by field.
    #[error("{}", describe_problems(.problems))]
    Invalid {
        /// Every problem found.
        problems: Vec<FieldError>,
    },
    /// A bundle failed the ZIP checks.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// No such plugin.
    #[error("plugin '{slug}' does not exist")]
    PluginNotFound {
        /// The slug asked for.
        slug: String,
    },
    /// No such version (never published).
    #[error("plugin '{slug}' has no version {version}")]
    VersionNotFound {
        /// The slug.
        slug: String,
        /// The version asked for.
        version: String,
    },
    /// The version was unpublished.
    #[error("{slug}@{version} was unpublished and is gone")]
    VersionGone {
        /// The slug.
        slug: String,
        /// The version.
        version: String,
    },
    /// The version was not published as a bundle.
    #[error("{slug}@{version} has no bundle; fetch its schema instead")]
    NoBundle {
        /// The slug.
        slug: String,
        /// The version.
        version: String,
    },
    /// No such key (or not one the caller may see).
    #[error("API key '{key_id}' does not exist")]
    KeyNotFound {
        /// The id asked for.
        key_id: String,
    },
    /// The version string was used before (perhaps since unpublished).
    #[error("{detail}")]
    VersionExists {
        /// Which version and why it cannot be used.
        detail: String,
    },
    /// An update's version is not above the latest.
    #[error("version {version} must be greater than the latest version {latest}")]
    VersionNotIncremented {
        /// The version offered.
        version: String,
        /// The current latest.
        latest: String,
    },
    /// Unpublish is not allowed for this version now.
    #[error("{detail}")]
    UnpublishRefused {
        /// Why, and what to do instead.
        detail: String,
    },
    /// Too many concurrent writers changed the plugin; nothing was written.
    #[error("plugin '{slug}' changed concurrently; retry the request")]
    ConcurrentUpdate {
        /// The slug.
        slug: String,
    },
    /// The stored catalog refers to an artifact that is missing.
    #[error("artifact {key} is missing from the artifact store")]
    MissingArtifact {
        /// The artifact's key.
        key: String,
    },
    /// This registry takes bundles in the request body, not through uploads.
    #[error(
        "this registry takes bundles directly: POST the ZIP to /plugins with Content-Type: application/zip"
    )]
    UploadsUnsupported,
    /// No such upload for this caller (never made, expired, or already published).
    #[error(
        "upload '{upload_id}' does not exist for this principal (it may have expired or been published already); request a new one with POST /uploads"
    )]
    UploadNotFound {
        /// The id named.
        upload_id: String,
    },
    /// The uploaded bytes are not what the client declared.
    #[error("{detail}")]
    UploadMismatch {
        /// What differs and what to do.
        detail: String,
    },
    /// The caller's principal lacks a permission.
    #[error(
        "this request needs the '{permission}' permission; ask a platform admin to grant it to your principal"
    )]
    MissingPermission {
        /// The permission needed.
        permission: crate::org::Permission,
    },
    /// The caller holds the permission but does not belong to the org.
    #[error("your principal is not a member of org '{org}'")]
    NotOrgMember {
        /// The org.
        org: String,
    },
    /// No such org.
    #[error("org '{org}' does not exist")]
    OrgNotFound {
        /// The org asked for.
        org: String,
    },
    /// An org with that id exists already.
    #[error("org '{org}' already exists")]
    OrgExists {
        /// The org.
        org: String,
    },
    /// No such principal.
    #[error("principal '{principal}' does not exist")]
    PrincipalNotFound {
        /// The principal asked for.
        principal: String,
    },
    /// A change of owners or team members that cannot be made as asked
    /// (`last_owner`, `already_owner`, `invitation_exists`, `last_maintainer`,
    /// `roster_full`).
    #[error("{detail}")]
    OwnershipConflict {
        /// The stable problem code.
        code: &'static str,
        /// What is in the way and what to do.
        detail: String,
    },
    /// The slug reads like another plugin's.
    #[error(
        "'{slug}' is too like the existing plugin '{existing}' (they differ only in '-', or in digits and letters that look alike); choose a more distinct slug"
    )]
    SlugConfusable {
        /// The slug asked for.
        slug: String,
        /// The plugin it reads like.
        existing: String,
    },
    /// The principal did this too often; nothing was written.
    #[error(
        "this principal is over its limit of {rate} for {action}; try again in {retry_after} seconds"
    )]
    RateLimited {
        /// What was limited (`new-plugin`, `new-version`).
        action: &'static str,
        /// The limit, as `BURST/PERIOD`.
        rate: String,
        /// Seconds until it is allowed again.
        retry_after: u64,
    },
    /// No pending invitation of that principal to own that plugin.
    #[error(
        "there is no pending invitation for '{invitee}' to own '{slug}' (it may have been answered, withdrawn or have lapsed after 30 days); ask an owner to invite again"
    )]
    InvitationNotFound {
        /// The plugin.
        slug: String,
        /// Who was to be invited.
        invitee: String,
    },
    /// The principal is not on that roster (an owner or team member to remove).
    #[error("{detail}")]
    NotOnRoster {
        /// `owner_not_found` or `team_member_not_found`.
        code: &'static str,
        /// Who is not on what.
        detail: String,
    },
    /// The plugin is in quarantine: it takes no new versions.
    #[error(
        "plugin '{slug}' is in quarantine ({reason}); it takes no new versions until an admin lifts it"
    )]
    PluginQuarantined {
        /// The plugin.
        slug: String,
        /// Why, as the admin said.
        reason: String,
    },
    /// The version waits for a reviewer (or was rejected): it is decided on, not
    /// deprecated or unpublished.
    #[error(
        "{slug}@{version} is {state} review: a reviewer approves or rejects it; it cannot be deprecated or unpublished meanwhile"
    )]
    VersionUnderReview {
        /// The plugin.
        slug: String,
        /// The version.
        version: String,
        /// `pending` or `rejected`.
        state: &'static str,
    },
    /// No version under review by that id.
    #[error(
        "there is no review '{id}' (a review id is slug@version, for a version submitted for review)"
    )]
    ReviewNotFound {
        /// The id asked for.
        id: String,
    },
    /// The review was decided already.
    #[error("review '{id}' was already {state}; a decision is final")]
    ReviewDecided {
        /// The review.
        id: String,
        /// `approved` or `rejected`.
        state: &'static str,
    },
    /// No such report.
    #[error("report '{id}' does not exist")]
    ReportNotFound {
        /// The id asked for.
        id: String,
    },
    /// The report was already resolved.
    #[error("report '{id}' was already resolved")]
    ReportResolved {
        /// The report.
        id: String,
    },
    /// This registry was started without a report store.
    #[error("this registry takes no reports")]
    ReportsUnavailable,
    /// This registry was started without an audit store.
    #[error("this registry keeps no audit log")]
    AuditUnavailable,
    /// This registry was started without an ownership store.
    #[error("this registry keeps no owners or teams; its plugins belong to their first publishers")]
    OwnershipUnavailable,
    /// No such team (or not one the caller may see).
    #[error("team '{team}' does not exist, or you are not a member of it")]
    TeamNotFound {
        /// The team asked for.
        team: String,
    },
    /// The principal is not a member of the org (removing a membership).
    #[error("principal '{principal}' is not a member of org '{org}'")]
    MemberNotFound {
        /// The org.
        org: String,
        /// The principal.
        principal: String,
    },
    /// The principal does not hold the permission (revoking it).
    #[error("principal '{principal}' does not hold '{permission}'")]
    PermissionNotHeld {
        /// The principal.
        principal: String,
        /// The permission.
        permission: crate::org::Permission,
    },
    /// No such catalog plugin, version or row visible to the caller.
    #[error("{detail}")]
    CatalogPluginNotFound {
        /// What was looked for.
        detail: String,
    },
    /// An org tried to enable a system plugin the platform has disabled.
    #[error(
        "system plugin {plugin_id} is disabled by the platform administrators; it cannot be enabled for an org until they enable it"
    )]
    SystemPluginDisabled {
        /// The row.
        plugin_id: String,
    },
    /// This registry was started without the org catalog.
    #[error("this registry has no org catalog configured")]
    OrgCatalogUnavailable,
    /// No such router instance.
    #[error("plugin '{slug}' has no registered instance '{instance_id}'")]
    InstanceNotFound {
        /// The plugin.
        slug: String,
        /// The instance asked for.
        instance_id: String,
    },
    /// Another principal registered an instance with this id.
    #[error(
        "instance '{instance_id}' of '{slug}' is registered by another principal; choose another instance_id"
    )]
    InstanceTaken {
        /// The plugin.
        slug: String,
        /// The id.
        instance_id: String,
    },
    /// This registry was started without the MCP router.
    #[error("this registry has no MCP router configured")]
    McpRouterUnavailable,
    /// No such webhook subscription, or not one the caller manages.
    #[error("there is no webhook subscription '{id}' that you manage")]
    WebhookNotFound {
        /// The id asked for.
        id: String,
    },
    /// No such delivery of the subscription.
    #[error(
        "webhook subscription '{subscription}' has no delivery '{id}' (deliveries stay in the log for 30 days)"
    )]
    DeliveryNotFound {
        /// The subscription.
        subscription: String,
        /// The delivery asked for.
        id: String,
    },
    /// The scope holds as many subscriptions as it may.
    #[error(
        "{scope} already has {max} webhook subscriptions, the most it may hold: remove one first"
    )]
    TooManyWebhooks {
        /// The scope.
        scope: String,
        /// The most it may hold.
        max: usize,
    },
    /// A review's checks have not all passed, so it cannot be approved.
    #[error(
        "review '{id}' waits for its checks: {detail}; approve it once every check passed (a reviewer may run one again)"
    )]
    ChecksNotPassed {
        /// The review.
        id: String,
        /// Each check that did not pass, and why.
        detail: String,
    },
    /// The review waits for no check of that name.
    #[error("review '{id}' waits for no check named '{name}'")]
    CheckNotFound {
        /// The review.
        id: String,
        /// The check asked for.
        name: String,
    },
    /// The check cannot take an answer now.
    #[error("check '{name}' takes no answer: {detail}")]
    CheckClosed {
        /// The check.
        name: String,
        /// Why.
        detail: String,
    },
    /// This registry was started without webhooks.
    #[error("this registry sends no webhooks")]
    WebhooksUnavailable,
    /// A CI token was refused before any publisher was looked at.
    #[error("{0}")]
    CiTokenRefused(#[from] crate::trusted_publishing::CiTokenError),
    /// A CI token was exchanged before: each is accepted once.
    #[error("this CI token was already exchanged; each is accepted once, so request a fresh one")]
    CiTokenReplayed,
    /// The CI job ran from a trigger that never publishes.
    #[error(
        "the workflow ran on '{trigger}', which runs with the repository's privileges on code from outside it; publish from a push, tag or release workflow"
    )]
    ForbiddenTrigger {
        /// The trigger.
        trigger: String,
    },
    /// No trusted publisher matches the CI job.
    #[error(
        "no plugin trusts {claims}; an owner registers it with 'openworkflow plugin publisher add' (or a pending publisher creates a new plugin)"
    )]
    NoTrustedPublisher {
        /// What the token says about the job.
        claims: String,
    },
    /// A publish token's publisher no longer publishes this plugin.
    #[error("plugin '{slug}' no longer trusts the publisher this token was issued through")]
    NotTrustedPublisher {
        /// The plugin.
        slug: String,
    },
    /// A publish token expired.
    #[error("the publish token expired at {expired_at}; exchange a fresh CI token")]
    PublishTokenExpired {
        /// When it expired.
        expired_at: crate::timestamp::Timestamp,
    },
    /// No such trusted publisher of the plugin (or not one the caller may see).
    #[error("plugin '{slug}' has no trusted publisher '{id}'")]
    PublisherNotFound {
        /// The plugin.
        slug: String,
        /// The publisher asked for.
        id: String,
    },
    /// The plugin already trusts this CI identity.
    #[error("plugin '{slug}' already trusts {identity} (publisher {id})")]
    PublisherExists {
        /// The plugin.
        slug: String,
        /// The identity.
        identity: String,
        /// The publisher holding it.
        id: String,
    },
    /// The plugin is locked to trusted publishing: an API key may not publish it.
    #[error(
        "plugin '{slug}' is locked to trusted publishing: publish it from its trusted CI workflow (an owner may lift the lock on the account page, after signing in again)"
    )]
    TrustedPublishingRequired {
        /// The plugin.
        slug: String,
    },
    /// Locking a plugin that no CI workflow may publish would leave nobody able to.
    #[error(
        "plugin '{slug}' has no trusted publisher; register one before locking it to trusted publishing"
    )]
    LockNeedsPublisher {
        /// The plugin.
        slug: String,
    },
    /// The action needs a sign-in more recent than the session's.
    #[error("this needs a fresh sign-in (within {minutes} minutes); sign in again and retry")]
    FreshSignInRequired {
        /// How recent, in minutes.
        minutes: i64,
    },
    /// This registry was started without trusted publishing.
    #[error("this registry has no trusted publishing configured")]
    TrustedPublishingUnavailable,
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The system's random source failed.
    #[error("random number generator failed")]
    Entropy,
}

/// One line naming every problem, for logs, CLIs and problem `detail`s.
fn describe_problems(problems: &[FieldError]) -> String {
    let listed: Vec<String> = problems
        .iter()
        .map(|p| {
            if p.field.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", p.field, p.message)
            }
        })
        .collect();
    match listed.len() {
        1 => listed.join(""),
        n => format!("{n} problems: {}", listed.join("; ")),
    }
}

impl From<getrandom::Error> for RegistryError {
    fn from(_: getrandom::Error) -> Self {
        Self::Entropy
    }
}

impl RegistryError {
    /// A validation failure of one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            problems: vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
        }
    }
}
