//! Where every index file lives, and which protocol URL reads it.
//!
//! Object keys come only from [`IndexPath`]; the CDN's URL mapping is
//! [`edge_route`], tested against the same table of cases as the CloudFront
//! Function in `infra/` (`infra/tests/edge-routes.json`).

use std::fmt;

use registry_core::artifact::{IMMUTABLE_CACHE_CONTROL, SHORT_CACHE_CONTROL, ZIP_CONTENT_TYPE};
use registry_core::slug::Slug;
use registry_core::version::PluginVersion;
use sha2::{Digest, Sha256};

/// Prefix of every index object in the bucket (and of index URLs).
pub const INDEX_PREFIX: &str = "index/";

/// File name of a plugin's downloads chart, beside its versions' files (no
/// version is named like it: versions start with a digit).
const DOWNLOADS_CHART_FILE: &str = "downloads.svg";
/// How many search shards and snapshot bins there are. Shard `k` of the search
/// index and bin `k` of the snapshot cover the same plugins, so one publish
/// rewrites one shard and one bin.
pub const SHARD_COUNT: u16 = 1024;
/// Media type of the web catalog's pages.
pub const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";
/// Media type of JSON index files.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Media type of schema documents stored without a recorded type (YAML is the
/// spec's own example format).
pub const DEFAULT_SCHEMA_CONTENT_TYPE: &str = "application/yaml";

/// The bin that lists `config.json`.
pub const CONFIG_BIN: Shard = Shard(0);

/// One of the [`SHARD_COUNT`] partitions of the plugins, chosen by slug hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard(u16);

impl Shard {
    /// The shard a plugin belongs to: the first two bytes of SHA-256(slug), modulo
    /// [`SHARD_COUNT`].
    pub fn of(slug: &Slug) -> Self {
        let digest = Sha256::digest(slug.as_str().as_bytes());
        Self(u16::from_be_bytes([digest[0], digest[1]]) % SHARD_COUNT)
    }

    /// Shard number `n`, if it is in range.
    pub fn new(n: u16) -> Option<Self> {
        (n < SHARD_COUNT).then_some(Self(n))
    }

    /// The shard's number.
    pub fn number(self) -> u16 {
        self.0
    }

    /// Every shard, in order.
    pub fn all() -> impl Iterator<Item = Shard> {
        (0..SHARD_COUNT).map(Shard)
    }

    /// Parses the three-hex-digit name used in paths: lowercase digits only, so each
    /// shard has exactly one name (`1E2` and `+a2` are not names of shards; `from_str_radix`
    /// alone would take both).
    pub fn parse(name: &str) -> Option<Self> {
        let canonical = name.len() == 3
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !canonical {
            return None;
        }
        u16::from_str_radix(name, 16).ok().and_then(Self::new)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03x}", self.0)
    }
}

/// Release versions one [`IndexPath::VersionBin`] covers at most: 16 minor by 16
/// patch numbers of one major.
const VERSION_GROUP_SPAN: u64 = 16;

/// The versions of a plugin whose files one version bin lists: those sharing a
/// major, a run of 16 minors and a run of 16 patches (pre-releases with their
/// release). A publish rewrites one or two version bins of at most 256 releases,
/// however long the plugin's history, and a plugin with a few versions has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionGroup {
    major: u64,
    minor_run: u64,
    patch_run: u64,
}

impl VersionGroup {
    /// The group `version` belongs to.
    pub fn of(version: &PluginVersion) -> Self {
        let v = version.semver();
        Self {
            major: v.major,
            minor_run: v.minor / VERSION_GROUP_SPAN,
            patch_run: v.patch / VERSION_GROUP_SPAN,
        }
    }

    /// Parses the name used in paths (`1-0-2`): decimal numbers without leading
    /// zeros, so each group has exactly one name.
    pub fn parse(name: &str) -> Option<Self> {
        let number = |raw: &str| -> Option<u64> {
            let canonical = !raw.is_empty()
                && raw.bytes().all(|b| b.is_ascii_digit())
                && (raw == "0" || !raw.starts_with('0'));
            canonical.then(|| raw.parse().ok()).flatten()
        };
        let mut parts = name.split('-');
        let group = Self {
            major: number(parts.next()?)?,
            minor_run: number(parts.next()?)?,
            patch_run: number(parts.next()?)?,
        };
        parts.next().is_none().then_some(group)
    }
}

impl fmt::Display for VersionGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.major, self.minor_run, self.patch_run)
    }
}

/// Where a file's hash is listed: a signed bin of the snapshot, or a version bin
/// of a plugin (itself listed, by hash, in the plugin's bin).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Listing {
    /// `snapshot/{shard}.json`.
    Bin(Shard),
    /// `snapshot/plugins/{slug}/{group}.json`.
    VersionBin(Slug, VersionGroup),
}

impl Listing {
    /// The file that holds the list.
    pub fn path(&self) -> IndexPath {
        match self {
            Self::Bin(shard) => IndexPath::Bin(*shard),
            Self::VersionBin(slug, group) => IndexPath::VersionBin(slug.clone(), *group),
        }
    }
}

/// The kind of an index file, which fixes its cache policy and default media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `config.json`.
    Config,
    /// A plugin's details at its latest version.
    PluginDetails,
    /// A plugin's details at one version.
    VersionDetails,
    /// A version's schema document, byte for byte as published.
    Schema,
    /// A version's bundle, byte for byte as published.
    Bundle,
    /// One shard of the search index.
    SearchShard,
    /// One signed bin of the snapshot.
    Bin,
    /// The hashes of some of one plugin's versions' files.
    VersionBin,
    /// The signed snapshot.
    Snapshot,
    /// The signed, short-lived timestamp.
    Timestamp,
    /// A page of the web catalog.
    Page,
    /// The pages' stylesheet or script, named by its content hash.
    Asset,
    /// A plugin's downloads chart (SVG), drawn by the download roll-up.
    Chart,
}

impl FileKind {
    /// The media type a file of this kind has unless its metadata says otherwise.
    pub fn default_content_type(self) -> &'static str {
        match self {
            Self::Schema => DEFAULT_SCHEMA_CONTENT_TYPE,
            Self::Bundle => ZIP_CONTENT_TYPE,
            Self::Page => HTML_CONTENT_TYPE,
            Self::Asset => "application/octet-stream",
            Self::Chart => registry_pages::SVG_CONTENT_TYPE,
            _ => JSON_CONTENT_TYPE,
        }
    }

    /// The cache policy of a file of this kind that is present (status 200): schema
    /// and bundle bytes of a version never change, everything else is revalidated.
    pub fn cache_control(self) -> &'static str {
        match self {
            Self::Schema | Self::Bundle | Self::Asset => IMMUTABLE_CACHE_CONTROL,
            _ => SHORT_CACHE_CONTROL,
        }
    }
}

/// The path of one index file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexPath {
    /// `config.json`: URL templates, auth, the index public key.
    Config,
    /// `plugins/{slug}.json`: the body of `GET /plugins/{slug}`.
    PluginDetails(Slug),
    /// `plugins/{slug}/{version}.json`: the body of `GET /plugins/{slug}?version=`.
    VersionDetails(Slug, PluginVersion),
    /// `plugins/{slug}/{version}/schema`: the schema document as published.
    Schema(Slug, PluginVersion),
    /// `plugins/{slug}/{version}/bundle`: the bundle as published.
    Bundle(Slug, PluginVersion),
    /// `search/{shard}.json`: the search entries of one shard.
    SearchShard(Shard),
    /// `snapshot/{shard}.json`: signed hashes of every file of one shard.
    Bin(Shard),
    /// `snapshot/plugins/{slug}/{group}.json`: hashes of the files of one group of
    /// a plugin's versions, listed by hash in the plugin's bin.
    VersionBin(Slug, VersionGroup),
    /// `snapshot.json`: signed hashes of every bin.
    Snapshot,
    /// `timestamp.json`: the signed, short-lived pointer to the snapshot.
    Timestamp,
    /// `plugins/{slug}.html`: a plugin's page, at its latest version.
    PluginPage(Slug),
    /// `plugins/{slug}/{version}.html`: one version's page.
    VersionPage(Slug, PluginVersion),
    /// `pages/home.html`: the home page.
    HomePage,
    /// `pages/404.html`: what a browser gets at an address with nothing there.
    NotFoundPage,
    /// `assets/{name}`: the pages' stylesheet or script.
    Asset(AssetName),
    /// `plugins/{slug}/downloads.svg`: the plugin's downloads over the last 90
    /// days. Drawn by the download roll-up, outside the signed chain and the
    /// rebuild invariant: the window slides with the clock.
    DownloadsChart(Slug),
}

/// The name of a page asset: lowercase letters, digits and inner dots only
/// (`site.0123456789ab.css`), so it is a plain object key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetName(String);

impl AssetName {
    /// `name` when it is a plain asset name.
    pub fn parse(name: &str) -> Option<Self> {
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..");
        plain.then(|| Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl IndexPath {
    /// The path inside the index (`plugins/github.json`).
    pub fn relative(&self) -> String {
        match self {
            Self::Config => "config.json".to_owned(),
            Self::PluginDetails(slug) => format!("plugins/{slug}.json"),
            Self::VersionDetails(slug, v) => format!("plugins/{slug}/{v}.json"),
            Self::Schema(slug, v) => format!("plugins/{slug}/{v}/schema"),
            Self::Bundle(slug, v) => format!("plugins/{slug}/{v}/bundle"),
            Self::SearchShard(shard) => format!("search/{shard}.json"),
            Self::Bin(shard) => format!("snapshot/{shard}.json"),
            Self::VersionBin(slug, group) => format!("snapshot/plugins/{slug}/{group}.json"),
            Self::Snapshot => "snapshot.json".to_owned(),
            Self::Timestamp => "timestamp.json".to_owned(),
            Self::PluginPage(slug) => format!("plugins/{slug}.html"),
            Self::VersionPage(slug, v) => format!("plugins/{slug}/{v}.html"),
            Self::HomePage => "pages/home.html".to_owned(),
            Self::NotFoundPage => "pages/404.html".to_owned(),
            Self::Asset(name) => format!("assets/{}", name.as_str()),
            Self::DownloadsChart(slug) => format!("plugins/{slug}/{DOWNLOADS_CHART_FILE}"),
        }
    }

    /// The object key in the bucket (`index/plugins/github.json`).
    pub fn key(&self) -> String {
        format!("{INDEX_PREFIX}{}", self.relative())
    }

    /// Parses a path inside the index; `None` for anything that is not one.
    pub fn parse(relative: &str) -> Option<Self> {
        let parts: Vec<&str> = relative.split('/').collect();
        let slug = |raw: &str| Slug::parse(raw).ok();
        let version = |raw: &str| PluginVersion::parse(raw).ok();
        match parts.as_slice() {
            ["config.json"] => Some(Self::Config),
            ["snapshot.json"] => Some(Self::Snapshot),
            ["timestamp.json"] => Some(Self::Timestamp),
            ["plugins", file] => match file.strip_suffix(".html") {
                Some(page) => Some(Self::PluginPage(slug(page)?)),
                None => Some(Self::PluginDetails(slug(file.strip_suffix(".json")?)?)),
            },
            ["plugins", s, DOWNLOADS_CHART_FILE] => Some(Self::DownloadsChart(slug(s)?)),
            ["plugins", s, file] => match file.strip_suffix(".html") {
                Some(page) => Some(Self::VersionPage(slug(s)?, version(page)?)),
                None => Some(Self::VersionDetails(
                    slug(s)?,
                    version(file.strip_suffix(".json")?)?,
                )),
            },
            ["plugins", s, v, "schema"] => Some(Self::Schema(slug(s)?, version(v)?)),
            ["plugins", s, v, "bundle"] => Some(Self::Bundle(slug(s)?, version(v)?)),
            ["search", file] => Some(Self::SearchShard(Shard::parse(
                file.strip_suffix(".json")?,
            )?)),
            ["snapshot", file] => Some(Self::Bin(Shard::parse(file.strip_suffix(".json")?)?)),
            ["snapshot", "plugins", s, file] => Some(Self::VersionBin(
                slug(s)?,
                VersionGroup::parse(file.strip_suffix(".json")?)?,
            )),
            ["pages", "home.html"] => Some(Self::HomePage),
            ["pages", "404.html"] => Some(Self::NotFoundPage),
            ["assets", name] => Some(Self::Asset(AssetName::parse(name)?)),
            _ => None,
        }
    }

    /// The file's kind.
    pub fn kind(&self) -> FileKind {
        match self {
            Self::Config => FileKind::Config,
            Self::PluginDetails(_) => FileKind::PluginDetails,
            Self::VersionDetails(..) => FileKind::VersionDetails,
            Self::Schema(..) => FileKind::Schema,
            Self::Bundle(..) => FileKind::Bundle,
            Self::SearchShard(_) => FileKind::SearchShard,
            Self::Bin(_) => FileKind::Bin,
            Self::VersionBin(..) => FileKind::VersionBin,
            Self::Snapshot => FileKind::Snapshot,
            Self::Timestamp => FileKind::Timestamp,
            Self::PluginPage(_) | Self::VersionPage(..) | Self::HomePage | Self::NotFoundPage => {
                FileKind::Page
            }
            Self::Asset(_) => FileKind::Asset,
            Self::DownloadsChart(_) => FileKind::Chart,
        }
    }

    /// The version a file belongs to, for one version's own files.
    pub fn version(&self) -> Option<&PluginVersion> {
        match self {
            Self::VersionDetails(_, version)
            | Self::Schema(_, version)
            | Self::Bundle(_, version)
            | Self::VersionPage(_, version) => Some(version),
            _ => None,
        }
    }

    /// The plugin this file belongs to, if it is one of a plugin's own files.
    pub fn slug(&self) -> Option<&Slug> {
        match self {
            Self::PluginDetails(slug)
            | Self::VersionDetails(slug, _)
            | Self::Schema(slug, _)
            | Self::Bundle(slug, _)
            | Self::PluginPage(slug)
            | Self::VersionPage(slug, _)
            | Self::VersionBin(slug, _)
            | Self::DownloadsChart(slug) => Some(slug),
            _ => None,
        }
    }

    /// Where this file's hash is listed; `None` for the signed files of the chain
    /// (bins, snapshot, timestamp) and for the home page, which is rewritten from
    /// the whole registry after every change (signing it would make concurrent
    /// updates race on one signed object). A plugin's own files, its version bins
    /// and its search shard share one bin; a version's files are listed in the
    /// version bin of its [`VersionGroup`], so no bin grows with one plugin's
    /// history.
    pub fn listing(&self) -> Option<Listing> {
        match self {
            Self::Config | Self::NotFoundPage | Self::Asset(_) => Some(Listing::Bin(CONFIG_BIN)),
            Self::SearchShard(shard) => Some(Listing::Bin(*shard)),
            Self::Bin(_)
            | Self::Snapshot
            | Self::Timestamp
            | Self::HomePage
            | Self::DownloadsChart(_) => None,
            plugin_file => {
                let slug = plugin_file.slug()?;
                Some(match plugin_file.version() {
                    Some(version) => Listing::VersionBin(slug.clone(), VersionGroup::of(version)),
                    None => Listing::Bin(Shard::of(slug)),
                })
            }
        }
    }
}

impl fmt::Display for IndexPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.relative())
    }
}

/// Where the CDN sends a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeRoute {
    /// An object of the bucket, by key (`index/plugins/github.json`, `artifacts/…`).
    Object(String),
    /// The API (a Lambda function).
    Api,
}

impl EdgeRoute {
    /// Whether the bucket's 404 for this object is retried at the API: a page
    /// nobody has is answered with the not-found page, which S3 cannot choose.
    /// (The CloudFront Function makes such a request an origin group of the
    /// bucket and the API, failing over on 404.)
    pub fn misses_go_to_api(&self) -> bool {
        match self {
            Self::Object(key) => key
                .strip_prefix(INDEX_PREFIX)
                .and_then(IndexPath::parse)
                .is_some_and(|path| path.kind() == FileKind::Page),
            Self::Api => false,
        }
    }
}

/// Maps a request onto an index object, as the CloudFront Function does: `GET` or
/// `HEAD` of `/plugins/{slug}` (with an optional valid `version` query), of
/// `/plugins/{slug}/{version}/schema|bundle`, and of `/index/…` or `/artifacts/…`
/// read objects; everything else (writes, search, a malformed version the API
/// answers with 400) goes to the API.
///
/// With `pages` (a public registry's index has them), a details URL asked for
/// with an `Accept` header preferring HTML ([`prefers_html`]) maps onto the
/// plugin's page instead of its JSON, and `/` onto the home page: one URL for
/// people and programs, two objects, so a cache never mixes them.
pub fn edge_route(
    method: &str,
    path: &str,
    query: Option<&str>,
    accept: Option<&str>,
    pages: bool,
) -> EdgeRoute {
    if method != "GET" && method != "HEAD" {
        return EdgeRoute::Api;
    }
    if path == "/" {
        return if pages {
            EdgeRoute::Object(IndexPath::HomePage.key())
        } else {
            EdgeRoute::Api
        };
    }
    let html = pages && prefers_html(accept);
    if path.starts_with("/index/") || path.starts_with("/artifacts/") {
        return if is_static_key(path) {
            EdgeRoute::Object(path[1..].to_owned())
        } else {
            EdgeRoute::Api
        };
    }
    let Some(rest) = path.strip_prefix("/plugins/") else {
        return EdgeRoute::Api;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let path = match parts.as_slice() {
        [slug] if *slug != "search" => {
            let Ok(slug) = Slug::parse(slug) else {
                return EdgeRoute::Api;
            };
            match (query_param(query, "version"), html) {
                (None, false) => IndexPath::PluginDetails(slug),
                (None, true) => IndexPath::PluginPage(slug),
                (Some(raw), html) => match PluginVersion::parse(raw) {
                    Ok(version) if html => IndexPath::VersionPage(slug, version),
                    Ok(version) => IndexPath::VersionDetails(slug, version),
                    Err(_) => return EdgeRoute::Api,
                },
            }
        }
        [slug, version, file @ ("schema" | "bundle")] => {
            let (Ok(slug), Ok(version)) = (Slug::parse(slug), PluginVersion::parse(version)) else {
                return EdgeRoute::Api;
            };
            if *file == "schema" {
                IndexPath::Schema(slug, version)
            } else {
                IndexPath::Bundle(slug, version)
            }
        }
        _ => return EdgeRoute::Api,
    };
    EdgeRoute::Object(path.key())
}

/// Whether an `Accept` header asks for HTML ahead of JSON: the highest-weighted
/// of `text/html` (or `application/xhtml+xml`) and JSON (`application/json`,
/// `application/*`, `*/*`) wins, and of two equal weights the one listed first.
/// No header, or curl's `*/*`, means JSON: the spec's clients never change.
pub fn prefers_html(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    // (weight, position) of the best range of each kind; ranges past a sane
    // number are ignored rather than parsed.
    let mut html: Option<(u16, usize)> = None;
    let mut json: Option<(u16, usize)> = None;
    for (position, range) in accept.split(',').take(32).enumerate() {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let weight = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .find_map(parse_weight)
            .unwrap_or(1000);
        let slot = match media.as_str() {
            "text/html" | "application/xhtml+xml" => &mut html,
            "application/json" | "application/*" | "*/*" => &mut json,
            _ => continue,
        };
        if slot.is_none_or(|(best, _)| weight > best) {
            *slot = Some((weight, position));
        }
    }
    match (html, json) {
        (Some((h, _)), None) => h > 0,
        (Some((h, hp)), Some((j, jp))) => h > 0 && (h > j || (h == j && hp < jp)),
        _ => false,
    }
}

/// An HTTP quality value (`0.8`) in thousandths; `None` when malformed.
fn parse_weight(raw: &str) -> Option<u16> {
    let raw = raw.trim();
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether a `/index/…` or `/artifacts/…` path is a plain object key: URL-safe
/// characters only, no `..`, no empty segment.
fn is_static_key(path: &str) -> bool {
    path.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._~@+-/".contains(&b))
        && !path.contains("..")
        && !path.contains("//")
}

/// The first value of `name` in a raw query string (no decoding: versions and
/// slugs never need it).
fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[derive(serde::Deserialize)]
    struct EdgeCase {
        name: String,
        method: String,
        uri: String,
        #[serde(default)]
        querystring: String,
        origin: String,
        #[serde(default)]
        key: Option<String>,
        #[serde(default)]
        accept: Option<String>,
        #[serde(default)]
        fallback: Option<String>,
    }

    #[test]
    fn each_shard_has_exactly_one_name() {
        assert_eq!(Shard::parse("1e2"), Shard::new(0x1e2));
        for other in ["1E2", "+e2", "-01", " 1e", "1e", "01e2", "fff0"] {
            assert_eq!(Shard::parse(other), None, "{other:?}");
            assert_eq!(IndexPath::parse(&format!("snapshot/{other}.json")), None);
            assert_eq!(IndexPath::parse(&format!("search/{other}.json")), None);
        }
    }

    #[test]
    fn protocol_urls_map_like_the_cloudfront_function() {
        let cases: Vec<EdgeCase> =
            serde_json::from_str(include_str!("../../../infra/tests/edge-routes.json")).unwrap();
        assert!(cases.len() >= 10);
        for case in cases {
            let query = (!case.querystring.is_empty()).then_some(case.querystring.as_str());
            let expected = match case.origin.as_str() {
                "api" => EdgeRoute::Api,
                "artifacts" => EdgeRoute::Object(case.key.clone().expect("key")),
                other => panic!("unknown origin {other}"),
            };
            let route = edge_route(&case.method, &case.uri, query, case.accept.as_deref(), true);
            assert_eq!(route, expected, "{}", case.name);
            assert_eq!(
                route.misses_go_to_api(),
                case.fallback.as_deref() == Some("api"),
                "{}: where a miss goes",
                case.name
            );
        }
    }

    #[test]
    fn every_path_parses_back() {
        let slug = Slug::parse("github").unwrap();
        let v = PluginVersion::parse("1.2.0-beta.1").unwrap();
        let paths = [
            IndexPath::Config,
            IndexPath::PluginDetails(slug.clone()),
            IndexPath::VersionDetails(slug.clone(), v.clone()),
            IndexPath::Schema(slug.clone(), v.clone()),
            IndexPath::Bundle(slug.clone(), v.clone()),
            IndexPath::SearchShard(Shard(0x3ff)),
            IndexPath::Bin(Shard(7)),
            IndexPath::Snapshot,
            IndexPath::Timestamp,
            IndexPath::PluginPage(slug.clone()),
            IndexPath::VersionBin(slug.clone(), VersionGroup::of(&v)),
            IndexPath::VersionPage(slug.clone(), v),
            IndexPath::HomePage,
            IndexPath::NotFoundPage,
            IndexPath::Asset(AssetName::parse("site.0123456789ab.css").unwrap()),
            IndexPath::DownloadsChart(slug.clone()),
        ];
        for path in paths {
            assert_eq!(IndexPath::parse(&path.relative()), Some(path.clone()));
            assert!(path.key().starts_with(INDEX_PREFIX));
        }
        assert_eq!(IndexPath::parse("plugins/../x.json"), None);
        assert_eq!(
            format!("/{}", IndexPath::DownloadsChart(slug.clone()).key()),
            registry_pages::Site::new("https://registry.example.com").downloads_chart_url("github"),
            "the page shows the chart the roll-up draws"
        );
        assert_eq!(IndexPath::DownloadsChart(slug).listing(), None, "unsigned");
        assert_eq!(IndexPath::parse("search/400.json"), None, "out of range");
    }

    #[test]
    fn a_plugins_own_files_share_its_search_shards_bin_and_its_versions_are_grouped() {
        let slug = Slug::parse("weather").unwrap();
        let shard = Shard::of(&slug);
        let v = |raw: &str| PluginVersion::parse(raw).unwrap();
        let group = |raw: &str| VersionGroup::of(&v(raw));
        for path in [
            IndexPath::PluginDetails(slug.clone()),
            IndexPath::PluginPage(slug.clone()),
            IndexPath::SearchShard(shard),
            IndexPath::VersionBin(slug.clone(), group("1.0.0")),
        ] {
            assert_eq!(path.listing(), Some(Listing::Bin(shard)), "{path}");
        }
        for path in [
            IndexPath::VersionDetails(slug.clone(), v("1.2.3")),
            IndexPath::Schema(slug.clone(), v("1.2.3")),
            IndexPath::Bundle(slug.clone(), v("1.2.3")),
            IndexPath::VersionPage(slug.clone(), v("1.2.3")),
        ] {
            assert_eq!(
                path.listing(),
                Some(Listing::VersionBin(slug.clone(), group("1.2.3"))),
                "{path}"
            );
        }
        // A few versions share one group; a long run of patches or minors spreads.
        assert_eq!(group("1.0.0"), group("1.2.0"));
        assert_eq!(group("1.15.15"), group("1.0.0-rc.1"));
        assert_ne!(group("1.0.16"), group("1.0.15"));
        assert_ne!(group("1.16.0"), group("1.15.0"));
        assert_ne!(group("2.0.0"), group("1.0.0"));
        let path = IndexPath::VersionBin(slug, group("3.40.1000"));
        assert_eq!(path.relative(), "snapshot/plugins/weather/3-2-62.json");
        assert_eq!(IndexPath::parse(&path.relative()), Some(path));
        for name in ["01-0-0", "1-0", "1-0-0-0", "1--0", "a-0-0", "+1-0-0"] {
            assert_eq!(VersionGroup::parse(name), None, "{name}");
        }
    }
}
