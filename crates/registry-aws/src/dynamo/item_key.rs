//! Every key of the single DynamoDB table, in one place: each item kind's
//! partition and sort key come from a function here, as `IndexPath` does for the
//! static index's files, so no adapter formats a key inline.
//!
//! | item | `PK` | `SK` | `GSI1PK` / `GSI1SK` |
//! | --- | --- | --- | --- |
//! | plugin | `PLUGIN#public#{slug}` | `META` | `PLUGINS#public` / `{slug}` |
//! | version | `PLUGIN#public#{slug}` | `V#{sortable semver}` | while pending review: `REVIEWS#pending` / `{submitted_at}#{slug}#{sortable semver}` |
//! | daily downloads | `PLUGIN#public#{slug}` | `DL#{version}#{yyyy-mm-dd}#{client}` | |
//! | monthly downloads | `PLUGIN#public#{slug}` | `DM#{version}#{yyyy-mm}#{client}` | |
//! | download months sealed | `CATALOG` | `SEALED_MONTHS` | |
//! | the registry's usage, as the last roll-up tallied it | `CATALOG` | `USAGE` | |
//! | CDN log part counted | `LOGFILE#{object key}` | `PART#{number}` | |
//! | CDN log file counted | `LOGFILE#{object key}` | `DONE` | |
//! | principal | `PRINCIPAL#{id}` | `META` | |
//! | API key | `KEY#{sha256 of key}` | `KEY` | `KEYS#{principal}` / `{created_at}#{key id}` |
//! | key id → hash | `KEYID#{key id}` | `KEY` | |
//! | catalog revision | `CATALOG` | `REVISION` | |
//! | "some key exists" | `CATALOG` | `KEYS_EXIST` | |
//! | org | `ORGS` | `ORG#{org}` | |
//! | org member | `ORG#{org}` | `MEMBER#{principal}` | `MEMBER_OF#{principal}` / `{org}` |
//! | org enablement of a system row | `ORG#{org}` | `ENABLED#{plugin_id}` | |
//! | permission | `PRINCIPAL#{id}` | `PERM#{permission}` | |
//! | catalog row | `CATALOG#{scope}` | `ROW#{pid}#{sortable semver}` | |
//! | plugin id → row | `CATROW#{plugin_id}` | `ROW` | |
//! | router instance | `ROUTE#{slug}` | `INST#{instance_id}` | `ROUTES` / `{slug}#{instance_id}` |
//! | a plugin's healthy instances on a day | `ROUTE#{slug}` | `HEALTHY#{yyyy-mm-dd}` | |
//! | account | `IDENTITY#{issuer}` | `SUB#{subject}` | `ACCOUNT#{principal}` / `ACCOUNT` |
//! | roster (plugin owners, team members) | `ROSTER#{plugin:slug or team:principal}` | `ROSTER` | |
//! | who is on a roster | `ROSTERS_OF#{principal}` | `ROSTER#{plugin:slug or team:principal}` | |
//! | a slug's skeleton, claimed | `SKELETON#{skeleton}` | `SKELETON` | |
//! | rate-limit mark | `RATE#{action}:{principal}` | `RATE` | |
//! | audit record | `AUDIT#{plugin:slug or principal:id}` | `{audit id}` | `AUDIT` / `{audit id}` |
//! | report of a plugin | `REPORT#{report id}` | `REPORT` | `REPORTS#open` or `REPORTS#resolved` / `{created_at}#{report id}` |
//! | trusted publisher | `TPUB#{slug}` | `{publisher id}` | `TPUB_CI#{github:repository id or gitlab:project id}` / `{created_at}#{publisher id}` |
//! | plugin locked to trusted publishing | `TPUB#{slug}` | `LOCK` | |
//! | publish token | `PUBTOKEN#{sha256 of secret}` | `TOKEN` | |
//! | CI token claimed | `JTI#{issuer}#{jti}` | `JTI` | |
//! | invitation to own a plugin | `INVITE#{slug}` | `TO#{invitee}` | `INVITED#{invitee}` / `{slug}` |
//! | session | `SESSION#{sha256 of secret}` | `SESSION` | `SESSIONS#{principal}` / `{created_at}#{session id}` |
//! | sign-in attempt | `LOGIN#{sha256 of secret}` | `LOGIN` | |
//! | device sign-in | `DEVICE#{sha256 of device code}` | `DEVICE` | |
//! | user code → device sign-in | `USERCODE#{user code}` | `DEVICE` | |
//! | webhook subscription | `HOOK#{subscription id}` | `HOOK` | `HOOKS#{registry, plugin:slug or org:id}` / `{created_at}#{subscription id}` |
//! | webhook delivery | `HOOK#{subscription id}` | `DELIVERY#{delivery id}` | while pending: `DELIVERIES#due` / `{due, 12 digits}#{delivery id}` |
//!
//! Daily download counters, days of healthy instances, counted log parts and files, sessions, sign-in attempts, device sign-ins, invitations, rate-limit marks, publish tokens, CI token claims and webhook deliveries carry a `ttl` (epoch seconds), the table's
//! time-to-live attribute: DynamoDB deletes them some time after they lapse, and
//! readers check `expires_at` meanwhile.

use registry_core::account::{Identity, UserCode};
use registry_core::audit::{AuditId, AuditSubject};
use registry_core::auth::{KeyId, PrincipalId, SecretHash};
use registry_core::catalog::{CatalogPluginId, CatalogScope};
use registry_core::downloads::{DownloadClient, DownloadKey, LogPart, YearMonth};
use registry_core::mcp_router::InstanceId;
use registry_core::moderation::ReportId;
use registry_core::org::{OrgId, Permission};
use registry_core::ownership::RosterKey;
use registry_core::slug::Slug;
use registry_core::trusted_publishing::PublisherId;
use registry_core::version::PluginVersion;
use registry_core::webhook::{DeliveryId, HookScope, SubscriptionId};

/// The partition and sort key of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemKey {
    /// `PK`.
    pub pk: String,
    /// `SK`.
    pub sk: String,
}

impl ItemKey {
    fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// A public plugin's own item: owner, revision, latest, counters.
    pub fn plugin(slug: &Slug) -> Self {
        Self::new(plugin_partition(slug), META)
    }

    /// One version of a public plugin.
    pub fn version(slug: &Slug, version: &PluginVersion) -> Self {
        Self::new(
            plugin_partition(slug),
            format!("{VERSION_PREFIX}{}", version.sort_key()),
        )
    }

    /// A version's downloads by one client on one day.
    pub fn daily_downloads(key: &DownloadKey) -> Self {
        Self::new(
            plugin_partition(&key.slug),
            format!(
                "{}{}#{}",
                downloads_prefix(&key.version),
                key.day,
                key.client
            ),
        )
    }

    /// A version's downloads by one client in one month.
    pub fn monthly_downloads(
        slug: &Slug,
        version: &PluginVersion,
        month: YearMonth,
        client: &DownloadClient,
    ) -> Self {
        Self::new(
            plugin_partition(slug),
            format!("{MONTHLY_DOWNLOADS_PREFIX}{version}#{month}#{client}"),
        )
    }

    /// The registry's usage as the last roll-up tallied it (JSON, `usage`).
    pub fn registry_usage() -> Self {
        Self::new(CATALOG, "USAGE")
    }

    /// The months whose download totals are sealed (a string set, `months`).
    pub fn sealed_download_months() -> Self {
        Self::new(CATALOG, "SEALED_MONTHS")
    }

    /// The marker of one counted part of a CDN log file.
    pub fn log_part(part: &LogPart) -> Self {
        Self::new(
            log_file_partition(&part.file),
            format!("PART#{}", part.number),
        )
    }

    /// The marker of a CDN log file counted to the end.
    pub fn log_file(file: &str) -> Self {
        Self::new(log_file_partition(file), "DONE")
    }

    /// A principal.
    pub fn principal(id: &PrincipalId) -> Self {
        Self::new(principal_partition(id), META)
    }

    /// An API key, found by the hash of its secret.
    pub fn api_key(hash: &SecretHash) -> Self {
        Self::new(format!("{API_KEY_PREFIX}{}", hash.to_hex()), KEY)
    }

    /// The pointer from a key's public id to its hash.
    pub fn key_id(id: &KeyId) -> Self {
        Self::new(format!("KEYID#{id}"), KEY)
    }

    /// The counter that changes with every catalog listing.
    pub fn catalog_revision() -> Self {
        Self::new(CATALOG, "REVISION")
    }

    /// The marker written once any key exists (the server's first-start check).
    pub fn keys_exist() -> Self {
        Self::new(CATALOG, "KEYS_EXIST")
    }

    /// An org.
    pub fn org(id: &OrgId) -> Self {
        Self::new(ORGS, format!("{ORG_PREFIX}{id}"))
    }

    /// A principal's membership of an org.
    pub fn member(org: &OrgId, principal: &PrincipalId) -> Self {
        Self::new(org_partition(org), format!("{MEMBER_PREFIX}{principal}"))
    }

    /// An org's choice about a system catalog row.
    pub fn enablement(org: &OrgId, id: &CatalogPluginId) -> Self {
        Self::new(org_partition(org), format!("{ENABLED_PREFIX}{id}"))
    }

    /// A permission a principal holds.
    pub fn permission(principal: &PrincipalId, permission: &Permission) -> Self {
        Self::new(
            principal_partition(principal),
            format!("{PERMISSION_PREFIX}{permission}"),
        )
    }

    /// One catalog row: a pid at a version in a scope.
    pub fn catalog_row(scope: &CatalogScope, pid: &Slug, version: &PluginVersion) -> Self {
        Self::new(
            scope_partition(scope),
            format!("{ROW_PREFIX}{pid}#{}", version.sort_key()),
        )
    }

    /// The pointer from a catalog row's id to the row.
    pub fn catalog_row_pointer(id: &CatalogPluginId) -> Self {
        Self::new(format!("CATROW#{id}"), "ROW")
    }

    /// A person's account, by the identity it is linked to.
    pub fn account(identity: &Identity) -> Self {
        Self::new(
            format!("IDENTITY#{}", identity.issuer),
            format!("SUB#{}", identity.subject),
        )
    }

    /// A browser session, found by the hash of its cookie's secret.
    pub fn session(hash: &SecretHash) -> Self {
        Self::new(format!("SESSION#{}", hash.to_hex()), "SESSION")
    }

    /// A sign-in in progress, found by the hash of its cookie's secret.
    pub fn login_attempt(hash: &SecretHash) -> Self {
        Self::new(format!("LOGIN#{}", hash.to_hex()), "LOGIN")
    }

    /// A device sign-in, found by the hash of its device code.
    pub fn device_grant(hash: &SecretHash) -> Self {
        Self::new(format!("DEVICE#{}", hash.to_hex()), "DEVICE")
    }

    /// The pointer from a user code to its device sign-in.
    pub fn user_code(code: &UserCode) -> Self {
        Self::new(format!("USERCODE#{}", code.as_str()), "DEVICE")
    }

    /// A roster: a plugin's owners or a team's members, with its revision.
    pub fn roster(key: &RosterKey) -> Self {
        Self::new(format!("ROSTER#{}", key.storage_name()), "ROSTER")
    }

    /// That `principal` is on the roster `key`: what "my plugins" and "my
    /// teams" read.
    pub fn roster_entry_of(principal: &PrincipalId, key: &RosterKey) -> Self {
        Self::new(
            rosters_of_principal(principal),
            format!("{ROSTER_ENTRY_PREFIX}{}", key.storage_name()),
        )
    }

    /// The claim of a slug's skeleton (`Slug::skeleton`) by the plugin that has it.
    pub fn skeleton(skeleton: &str) -> Self {
        Self::new(format!("SKELETON#{skeleton}"), "SKELETON")
    }

    /// A rate limit's mark, by its key (`{action}:{principal}`).
    pub fn rate_mark(key: &str) -> Self {
        Self::new(format!("RATE#{key}"), "RATE")
    }

    /// One record of the audit log.
    pub fn audit_record(subject: &AuditSubject, id: &AuditId) -> Self {
        Self::new(audit_partition(subject), id.as_str())
    }

    /// One report of a plugin.
    pub fn report(id: &ReportId) -> Self {
        Self::new(format!("REPORT#{id}"), "REPORT")
    }

    /// An invitation of `invitee` to own `slug`.
    pub fn invitation(slug: &Slug, invitee: &PrincipalId) -> Self {
        Self::new(
            invitations_of_plugin(slug),
            format!("{INVITEE_PREFIX}{invitee}"),
        )
    }

    /// One trusted publisher of a plugin.
    pub fn trusted_publisher(slug: &Slug, id: &PublisherId) -> Self {
        Self::new(trusted_publishers_of(slug), id.as_str())
    }

    /// A plugin's lock to trusted publishing, beside its publishers.
    pub fn publishing_lock(slug: &Slug) -> Self {
        Self::new(trusted_publishers_of(slug), "LOCK")
    }

    /// A publish token, by the hash of its secret.
    pub fn publish_token(hash: &SecretHash) -> Self {
        Self::new(format!("PUBTOKEN#{}", hash.to_hex()), "TOKEN")
    }

    /// The claim of a CI token's `(issuer, jti)`: each is exchanged once.
    pub fn ci_token_claim(issuer: &str, jti: &str) -> Self {
        Self::new(format!("JTI#{issuer}#{jti}"), "JTI")
    }

    /// One MCP router instance of a plugin.
    pub fn router_instance(slug: &Slug, id: &InstanceId) -> Self {
        Self::new(route_partition(slug), format!("{INSTANCE_PREFIX}{id}"))
    }

    /// A plugin's healthy instances on one day (`lowest`, `highest`).
    pub fn healthy_instances(slug: &Slug, day: time::Date) -> Self {
        Self::new(route_partition(slug), format!("{HEALTHY_PREFIX}{day}"))
    }

    /// A webhook subscription.
    pub fn webhook_subscription(id: &SubscriptionId) -> Self {
        Self::new(hook_partition(id), "HOOK")
    }

    /// One delivery of a webhook subscription, in its partition so that its
    /// log is one query.
    pub fn webhook_delivery(subscription: &SubscriptionId, id: &DeliveryId) -> Self {
        Self::new(
            hook_partition(subscription),
            format!("{DELIVERY_PREFIX}{id}"),
        )
    }
}

/// A webhook subscription's partition: the subscription and its deliveries.
pub fn hook_partition(id: &SubscriptionId) -> String {
    format!("HOOK#{id}")
}

/// `GSI1PK` of a scope's webhook subscriptions.
pub fn hooks_of_scope(scope: &HookScope) -> String {
    format!("HOOKS#{}", scope.storage_name())
}

/// Sort-key prefix of a subscription's deliveries.
pub const DELIVERY_PREFIX: &str = "DELIVERY#";
/// `GSI1PK` of pending deliveries, by the time they are due.
pub const DUE_DELIVERIES: &str = "DELIVERIES#due";

/// `GSI1SK` of a pending delivery: due time (zero-padded Unix seconds) first,
/// so a range query up to now finds the due ones.
pub fn due_delivery_key(due: i64, id: &DeliveryId) -> String {
    format!("{due:012}#{id}")
}

/// The sort key of every item that is the thing itself (plugin, principal).
pub const META: &str = "META";
/// Sort key of API key items and their id pointers.
pub const KEY: &str = "KEY";
/// Partition-key prefix of API key items.
pub const API_KEY_PREFIX: &str = "KEY#";
/// Partition of the catalog-wide counters and markers.
const CATALOG: &str = "CATALOG";
/// Partition of every org item, so listing orgs is one query.
pub const ORGS: &str = "ORGS";
/// `GSI1PK` of every public plugin: the listing index.
pub const PUBLIC_LISTING: &str = "PLUGINS#public";
/// GSI1 partition listing the versions waiting for a reviewer.
pub const PENDING_REVIEWS: &str = "REVIEWS#pending";
/// `GSI1PK` of every router instance: a health pass lists them with one query.
pub const ROUTES: &str = "ROUTES";

/// Partition-key prefix of the public registry's plugins.
pub const PUBLIC_PLUGIN_PREFIX: &str = "PLUGIN#public#";
/// Sort-key prefix of a plugin's versions.
pub const VERSION_PREFIX: &str = "V#";
/// Sort-key prefix of every daily download counter.
pub const DOWNLOADS_PREFIX: &str = "DL#";
/// Sort-key prefix of every monthly download total.
pub const MONTHLY_DOWNLOADS_PREFIX: &str = "DM#";
/// Sort-key prefix of orgs in [`ORGS`].
pub const ORG_PREFIX: &str = "ORG#";
/// Sort-key prefix of an org's members.
pub const MEMBER_PREFIX: &str = "MEMBER#";
/// Sort-key prefix of an org's enablements.
pub const ENABLED_PREFIX: &str = "ENABLED#";
/// Sort-key prefix of a principal's permissions.
pub const PERMISSION_PREFIX: &str = "PERM#";
/// Sort-key prefix of a scope's catalog rows.
pub const ROW_PREFIX: &str = "ROW#";
/// Sort-key prefix of a plugin's router instances.
pub const INSTANCE_PREFIX: &str = "INST#";
/// Sort-key prefix of a plugin's days of healthy instances.
pub const HEALTHY_PREFIX: &str = "HEALTHY#";

/// The partition of a plugin's trusted publishers.
pub fn trusted_publishers_of(slug: &Slug) -> String {
    format!("TPUB#{slug}")
}

/// The GSI1 partition of the trusted publishers of one CI identity
/// (`CiIdentity::lookup_key`), of any plugin.
pub fn trusted_publishers_for_ci(lookup_key: &str) -> String {
    format!("TPUB_CI#{lookup_key}")
}

/// A public plugin's partition: its item, versions and download counters.
pub fn plugin_partition(slug: &Slug) -> String {
    format!("{PUBLIC_PLUGIN_PREFIX}{slug}")
}

/// Sort-key prefix of one version's daily download counters.
pub fn downloads_prefix(version: &PluginVersion) -> String {
    format!("{DOWNLOADS_PREFIX}{version}#")
}

/// The partition of one CDN log file's markers.
fn log_file_partition(file: &str) -> String {
    format!("LOGFILE#{file}")
}

/// The version, day and client a daily counter's sort key names. Counters written
/// before clients were counted (`DL#{version}#{day}`) are [`DownloadClient::Other`].
pub fn daily_downloads_of(sk: &str) -> Option<(PluginVersion, time::Date, DownloadClient)> {
    let mut parts = sk.strip_prefix(DOWNLOADS_PREFIX)?.split('#');
    let version = PluginVersion::parse(parts.next()?).ok()?;
    let day = registry_core::timestamp::parse_day(parts.next()?)?;
    let client = match parts.next() {
        None => DownloadClient::Other,
        Some(label) => DownloadClient::try_from(label.to_owned()).ok()?,
    };
    parts.next().is_none().then_some((version, day, client))
}

/// The version, month and client a monthly total's sort key names.
pub fn monthly_downloads_of(sk: &str) -> Option<(PluginVersion, YearMonth, DownloadClient)> {
    let mut parts = sk.strip_prefix(MONTHLY_DOWNLOADS_PREFIX)?.split('#');
    let version = PluginVersion::parse(parts.next()?).ok()?;
    let month = YearMonth::parse(parts.next()?)?;
    let client = DownloadClient::try_from(parts.next()?.to_owned()).ok()?;
    parts.next().is_none().then_some((version, month, client))
}

/// `GSI1PK` of every audit record, so admins read the whole log newest first.
pub const AUDIT_LOG: &str = "AUDIT";

/// The partition of a subject's audit records.
pub fn audit_partition(subject: &AuditSubject) -> String {
    format!("AUDIT#{}", subject.storage_name())
}

/// `GSI1PK` of the open reports.
pub const OPEN_REPORTS: &str = "REPORTS#open";
/// `GSI1PK` of the resolved reports.
pub const RESOLVED_REPORTS: &str = "REPORTS#resolved";

/// Sort-key prefix of the rosters a principal is on.
pub const ROSTER_ENTRY_PREFIX: &str = "ROSTER#";
/// Sort-key prefix of a plugin's invitations.
pub const INVITEE_PREFIX: &str = "TO#";

/// The partition listing the rosters a principal is on.
pub fn rosters_of_principal(id: &PrincipalId) -> String {
    format!("ROSTERS_OF#{id}")
}

/// A plugin's invitations' partition.
pub fn invitations_of_plugin(slug: &Slug) -> String {
    format!("INVITE#{slug}")
}

/// `GSI1PK` of the invitations to a principal.
pub fn invitations_to(id: &PrincipalId) -> String {
    format!("INVITED#{id}")
}

/// `GSI1PK` of a principal's account, so deleting the account finds it.
pub fn account_of_principal(id: &PrincipalId) -> String {
    format!("ACCOUNT#{id}")
}

/// A principal's partition: the principal and its permissions.
pub fn principal_partition(id: &PrincipalId) -> String {
    format!("PRINCIPAL#{id}")
}

/// `GSI1PK` of a principal's keys, so listing them is one query.
pub fn keys_of_principal(id: &PrincipalId) -> String {
    format!("KEYS#{id}")
}

/// `GSI1PK` of a principal's sessions, so signing out everywhere finds them.
pub fn sessions_of_principal(id: &PrincipalId) -> String {
    format!("SESSIONS#{id}")
}

/// `GSI1PK` of a principal's org memberships, so the account page lists them
/// with one query.
pub fn memberships_of_principal(id: &PrincipalId) -> String {
    format!("MEMBER_OF#{id}")
}

/// An org's partition: its members and enablements.
pub fn org_partition(org: &OrgId) -> String {
    format!("{ORG_PREFIX}{org}")
}

/// A catalog scope's partition: its rows, by pid then semver.
pub fn scope_partition(scope: &CatalogScope) -> String {
    format!("CATALOG#{}", scope.storage_name())
}

/// A plugin's routing table partition.
pub fn route_partition(slug: &Slug) -> String {
    format!("ROUTE#{slug}")
}

/// The public plugin an item belongs to, when the item is a plugin's own or one
/// of its versions (what the static index is built from); `None` for every other
/// item, download counters included.
pub fn public_plugin_of(pk: &str, sk: &str) -> Result<Option<Slug>, String> {
    let Some(raw) = pk.strip_prefix(PUBLIC_PLUGIN_PREFIX) else {
        return Ok(None);
    };
    if sk != META && !sk.starts_with(VERSION_PREFIX) {
        return Ok(None);
    }
    Slug::parse(raw)
        .map(Some)
        .map_err(|e| format!("bad slug in {pk}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(raw: &str) -> Slug {
        Slug::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    fn version(raw: &str) -> PluginVersion {
        PluginVersion::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn keys_are_laid_out_as_the_table_documents() {
        let github = slug("github");
        let v = version("1.2.0");
        assert_eq!(ItemKey::plugin(&github).pk, "PLUGIN#public#github");
        assert_eq!(ItemKey::plugin(&github).sk, "META");
        assert!(ItemKey::version(&github, &v).sk.starts_with("V#"));
        let day = time::macros::date!(2026 - 12 - 01);
        let cli = DownloadClient::from_user_agent(Some("openworkflow/0.4.1"));
        let counter = DownloadKey {
            slug: github.clone(),
            version: v.clone(),
            day,
            client: cli.clone(),
        };
        assert_eq!(
            ItemKey::daily_downloads(&counter).sk,
            "DL#1.2.0#2026-12-01#openworkflow/0.4.1"
        );
        assert_eq!(
            daily_downloads_of("DL#1.2.0#2026-12-01#openworkflow/0.4.1"),
            Some((v.clone(), day, cli.clone()))
        );
        // Counters from before clients were counted.
        assert_eq!(
            daily_downloads_of("DL#1.2.0#2026-12-01"),
            Some((v.clone(), day, DownloadClient::Other))
        );
        assert_eq!(daily_downloads_of("DL#1.2.0#2026-12-01#other#x"), None);
        let month = YearMonth::of(day);
        let total = ItemKey::monthly_downloads(&github, &v, month, &cli);
        assert_eq!(total.sk, "DM#1.2.0#2026-12#openworkflow/0.4.1");
        assert_eq!(
            monthly_downloads_of(&total.sk),
            Some((v.clone(), month, cli))
        );
        assert_eq!(
            ItemKey::org(&OrgId::parse("acme").unwrap_or_else(|e| panic!("{e}"))),
            ItemKey {
                pk: "ORGS".to_owned(),
                sk: "ORG#acme".to_owned()
            }
        );
    }

    #[test]
    fn only_plugin_and_version_items_name_a_public_plugin() {
        let github = slug("github");
        let v = version("1.2.0");
        for key in [ItemKey::plugin(&github), ItemKey::version(&github, &v)] {
            assert_eq!(public_plugin_of(&key.pk, &key.sk), Ok(Some(github.clone())));
        }
        let day = time::macros::date!(2026 - 12 - 01);
        for key in [
            ItemKey::daily_downloads(&DownloadKey {
                slug: github.clone(),
                version: v.clone(),
                day,
                client: DownloadClient::Other,
            }),
            ItemKey::monthly_downloads(&github, &v, YearMonth::of(day), &DownloadClient::Other),
            ItemKey::router_instance(
                &github,
                &InstanceId::parse("i-1").unwrap_or_else(|e| panic!("{e}")),
            ),
            ItemKey::principal(&PrincipalId::from_stored("prn_1")),
        ] {
            assert_eq!(public_plugin_of(&key.pk, &key.sk), Ok(None), "{key:?}");
        }
        assert!(public_plugin_of("PLUGIN#public#Not A Slug", "META").is_err());
    }
}
