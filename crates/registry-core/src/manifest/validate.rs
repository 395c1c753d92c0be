//! Field-by-field validation of a manifest, collecting every problem.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::settings::validate_settings_schema;
use super::{Action, Compatibility, EnvironmentVariable, Manifest, Runtime, Signature};
use crate::slug::Slug;
use crate::version::PluginVersion;

/// The bounds every manifest must respect; the README's "Plugin manifest rules" table
/// lists the same numbers.
pub mod limits {
    /// Longest `name`, in characters.
    pub const NAME: usize = 100;
    /// Longest `description` (plugin or action or variable), in characters.
    pub const DESCRIPTION: usize = 1_000;
    /// Longest `author`, in characters.
    pub const AUTHOR: usize = 200;
    /// Longest URL, in bytes.
    pub const URL: usize = 2_048;
    /// Longest `license` expression, in bytes.
    pub const LICENSE: usize = 200;
    /// Most tags.
    pub const TAGS: usize = 20;
    /// Longest tag, in characters.
    pub const TAG: usize = 32;
    /// Most actions.
    pub const ACTIONS: usize = 200;
    /// Longest action name, in characters.
    pub const ACTION_NAME: usize = 128;
    /// Most environment variables.
    pub const ENVIRONMENT: usize = 100;
    /// Longest environment variable name, in characters.
    pub const ENV_NAME: usize = 128;
    /// Longest `changelog`, in characters.
    pub const CHANGELOG: usize = 50_000;
    /// Most dependencies.
    pub const DEPENDENCIES: usize = 100;
    /// Longest runtime timeout, in seconds.
    pub const TIMEOUT_SECS: u64 = 3_600;
    /// Longest `signature` block, in bytes.
    pub const SIGNATURE: usize = 16_384;
    /// Most capabilities.
    pub const CAPABILITIES: usize = 50;
    /// Longest capability, in characters.
    pub const CAPABILITY: usize = 64;
}

/// One problem with one field of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field, such as `actions[1].name`.
    pub field: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

const KNOWN_FIELDS: &[&str] = &[
    "slug",
    "version",
    "name",
    "description",
    "actions",
    "author",
    "homepage",
    "repository",
    "license",
    "tags",
    "icon",
    "runtime",
    "environment",
    "changelog",
    "dependencies",
    "compatibility",
    "security",
    "support",
    "signature",
    "capabilities",
    "settings_schema",
];

/// Validates a parsed document and builds the manifest, or lists every problem.
pub fn validate_manifest(value: &Value) -> Result<Manifest, Vec<FieldError>> {
    let Some(map) = value.as_object() else {
        return Err(vec![FieldError {
            field: String::new(),
            message: format!(
                "the document must be a mapping of fields, not {}",
                kind_of(value)
            ),
        }]);
    };
    let mut v = Validator::default();
    for key in map.keys() {
        if !KNOWN_FIELDS.contains(&key.as_str()) {
            v.fail(
                key,
                "unknown field (check the spelling; see the manifest field list)",
            );
        }
    }
    let slug = v
        .required_str(map, "slug")
        .and_then(|s| v.check(Slug::parse(s), "slug"));
    let version = v
        .required_str(map, "version")
        .and_then(|s| v.check(PluginVersion::parse(s), "version"));
    let name = v.text(map, "name", limits::NAME, true);
    let description = v.text(map, "description", limits::DESCRIPTION, true);
    let author = v.text(map, "author", limits::AUTHOR, true);
    let homepage = v.url(map, "homepage", true);
    let repository = v.url(map, "repository", true);
    let icon = v.url(map, "icon", true);
    let license = v.license(map);
    let tags = v.tags(map);
    let actions = v.actions(map);
    let runtime = v.runtime(map);
    let environment = v.environment(map);
    let changelog = v.text(map, "changelog", limits::CHANGELOG, false);
    let dependencies = v.dependencies(map, slug.as_ref());
    let compatibility = v.compatibility(map);
    let security = v.url(map, "security", false);
    let support = v.support(map);
    let signature = v.signature(map);
    let capabilities = v.capabilities(map);
    let settings_schema = v.settings_schema(map);

    if !v.errors.is_empty() {
        return Err(v.errors);
    }
    match (
        slug,
        version,
        name,
        description,
        author,
        homepage,
        repository,
        icon,
        license,
        tags,
        actions,
    ) {
        (
            Some(slug),
            Some(version),
            Some(name),
            Some(description),
            Some(author),
            Some(homepage),
            Some(repository),
            Some(icon),
            Some(license),
            Some(tags),
            Some(actions),
        ) => Ok(Manifest {
            slug,
            version,
            name,
            description,
            author,
            homepage,
            repository,
            license,
            tags,
            icon,
            actions,
            runtime,
            environment,
            changelog,
            dependencies,
            compatibility,
            security,
            support,
            signature,
            capabilities,
            settings_schema,
        }),
        // Every None above recorded an error, so this arm is unreachable in practice;
        // it still answers honestly instead of panicking.
        _ => Err(vec![FieldError {
            field: String::new(),
            message: "the manifest is incomplete".to_owned(),
        }]),
    }
}

#[derive(Default)]
struct Validator {
    errors: Vec<FieldError>,
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

impl Validator {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn check<T>(&mut self, result: Result<T, String>, field: &str) -> Option<T> {
        result.map_err(|m| self.fail(field, m)).ok()
    }

    /// The field's value if present and not null; records a problem if required and absent.
    fn field<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'a Value> {
        match map.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(key, "is required");
                }
                None
            }
            Some(value) => Some(value),
        }
    }

    fn string_at<'a>(&mut self, value: &'a Value, path: &str) -> Option<&'a str> {
        match value {
            Value::String(s) => Some(s),
            // YAML types unquoted `1.0` or `true`; say how to keep it text.
            scalar @ (Value::Number(_) | Value::Bool(_)) => {
                self.fail(
                    path,
                    format!(
                        "must be a string, not {} (in YAML, quote it: \"{scalar}\")",
                        kind_of(scalar)
                    ),
                );
                None
            }
            other => {
                self.fail(path, format!("must be a string, not {}", kind_of(other)));
                None
            }
        }
    }

    fn required_str<'a>(&mut self, map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
        let value = self.field(map, key, true)?;
        self.string_at(value, key)
    }

    fn text_at(&mut self, value: &Value, path: &str, max_chars: usize) -> Option<String> {
        let s = self.string_at(value, path)?;
        let trimmed = s.trim();
        let len = trimmed.chars().count();
        if len == 0 {
            self.fail(path, "must not be empty");
            return None;
        }
        if len > max_chars {
            self.fail(
                path,
                format!("must be at most {max_chars} characters (got {len})"),
            );
            return None;
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            self.fail(path, "must not contain control characters");
            return None;
        }
        Some(trimmed.to_owned())
    }

    fn text(
        &mut self,
        map: &Map<String, Value>,
        key: &str,
        max_chars: usize,
        required: bool,
    ) -> Option<String> {
        let value = self.field(map, key, required)?;
        self.text_at(value, key, max_chars)
    }

    fn url_at(&mut self, value: &Value, path: &str) -> Option<String> {
        let s = self.string_at(value, path)?;
        match check_http_url(s) {
            Ok(()) => Some(s.to_owned()),
            Err(m) => {
                self.fail(path, m);
                None
            }
        }
    }

    fn url(&mut self, map: &Map<String, Value>, key: &str, required: bool) -> Option<String> {
        let value = self.field(map, key, required)?;
        self.url_at(value, key)
    }

    fn license(&mut self, map: &Map<String, Value>) -> Option<String> {
        let s = self.required_str(map, "license")?;
        if s.len() > limits::LICENSE {
            self.fail(
                "license",
                format!("must be at most {} bytes", limits::LICENSE),
            );
            return None;
        }
        match spdx::Expression::parse(s) {
            Ok(_) => Some(s.to_owned()),
            Err(e) => {
                self.fail(
                    "license",
                    format!("must be a valid SPDX license expression such as MIT or Apache-2.0 OR MIT ({})", e.reason),
                );
                None
            }
        }
    }

    fn list<'a>(
        &mut self,
        map: &'a Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'a Vec<Value>> {
        match self.field(map, key, required)? {
            Value::Array(items) => Some(items),
            other => {
                self.fail(key, format!("must be a list, not {}", kind_of(other)));
                None
            }
        }
    }

    fn tags(&mut self, map: &Map<String, Value>) -> Option<Vec<String>> {
        let items = self.list(map, "tags", true)?;
        let before = self.errors.len();
        if items.is_empty() {
            self.fail("tags", "must list at least one tag");
        }
        if items.len() > limits::TAGS {
            self.fail(
                "tags",
                format!(
                    "must list at most {} tags (got {})",
                    limits::TAGS,
                    items.len()
                ),
            );
        }
        let mut seen = BTreeSet::new();
        let mut tags = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("tags[{i}]");
            let Some(tag) = self.string_at(item, &path) else {
                continue;
            };
            let normalized = tag.to_ascii_lowercase();
            if let Err(m) = check_tag(tag) {
                self.fail(&path, m);
            } else if !seen.insert(normalized.clone()) {
                self.fail(
                    &path,
                    format!("duplicate tag {tag:?} (tags are compared ignoring case)"),
                );
            } else {
                tags.push(normalized);
            }
        }
        (self.errors.len() == before).then_some(tags)
    }

    fn actions(&mut self, map: &Map<String, Value>) -> Option<Vec<Action>> {
        let items = self.list(map, "actions", true)?;
        let before = self.errors.len();
        if items.is_empty() {
            self.fail("actions", "must define at least one action");
        }
        if items.len() > limits::ACTIONS {
            self.fail(
                "actions",
                format!("must define at most {} actions", limits::ACTIONS),
            );
        }
        let mut seen = BTreeSet::new();
        let mut actions = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("actions[{i}]");
            let Some(obj) = self.object_at(item, &path) else {
                continue;
            };
            self.no_unknown(obj, &path, &["name", "description", "input", "output"]);
            let name = match obj.get("name") {
                None | Some(Value::Null) => {
                    self.fail(format!("{path}.name"), "is required");
                    None
                }
                Some(value) => self
                    .string_at(value, &format!("{path}.name"))
                    .and_then(|n| match check_action_name(n) {
                        Err(m) => {
                            self.fail(format!("{path}.name"), m);
                            None
                        }
                        Ok(()) if !seen.insert(n.to_owned()) => {
                            self.fail(
                                format!("{path}.name"),
                                format!("duplicate action name {n:?}"),
                            );
                            None
                        }
                        Ok(()) => Some(n.to_owned()),
                    }),
            };
            let description = self.nested_text(obj, &path, "description", limits::DESCRIPTION);
            let input = self.optional_mapping(obj, &path, "input");
            let output = self.optional_mapping(obj, &path, "output");
            if let (Some(name), Some(description)) = (name, description) {
                actions.push(Action {
                    name,
                    description,
                    input,
                    output,
                });
            }
        }
        (self.errors.len() == before).then_some(actions)
    }

    fn object_at<'a>(&mut self, value: &'a Value, path: &str) -> Option<&'a Map<String, Value>> {
        match value {
            Value::Object(obj) => Some(obj),
            other => {
                self.fail(path, format!("must be a mapping, not {}", kind_of(other)));
                None
            }
        }
    }

    fn no_unknown(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) {
                self.fail(
                    format!("{path}.{key}"),
                    format!("unknown field (expected one of: {})", known.join(", ")),
                );
            }
        }
    }

    fn nested_text(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
        max: usize,
    ) -> Option<String> {
        let field = format!("{path}.{key}");
        match obj.get(key) {
            None | Some(Value::Null) => {
                self.fail(field, "is required");
                None
            }
            Some(value) => self.text_at(value, &field, max),
        }
    }

    fn optional_mapping(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<Value> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(value @ Value::Object(_)) => Some(value.clone()),
            Some(other) => {
                self.fail(
                    format!("{path}.{key}"),
                    format!(
                        "must be a mapping of names to types or schemas, not {}",
                        kind_of(other)
                    ),
                );
                None
            }
        }
    }

    fn runtime(&mut self, map: &Map<String, Value>) -> Option<Runtime> {
        let value = self.field(map, "runtime", false)?;
        let obj = self.object_at(value, "runtime")?;
        self.no_unknown(obj, "runtime", &["memory", "timeout"]);
        let memory = match obj.get("memory") {
            None | Some(Value::Null) => None,
            Some(value) => self.string_at(value, "runtime.memory").and_then(|m| {
                check_memory(m)
                    .map_err(|e| self.fail("runtime.memory", e))
                    .ok()
                    .map(|()| m.to_owned())
            }),
        };
        let timeout = match obj.get("timeout") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(secs) if (1..=limits::TIMEOUT_SECS).contains(&secs) => {
                    u32::try_from(secs).ok()
                }
                _ => {
                    self.fail(
                        "runtime.timeout",
                        format!(
                            "must be a whole number of seconds from 1 to {}",
                            limits::TIMEOUT_SECS
                        ),
                    );
                    None
                }
            },
            Some(other) => {
                self.fail(
                    "runtime.timeout",
                    format!("must be a number of seconds, not {}", kind_of(other)),
                );
                None
            }
        };
        Some(Runtime { memory, timeout })
    }

    fn environment(&mut self, map: &Map<String, Value>) -> Option<Vec<EnvironmentVariable>> {
        let items = self.list(map, "environment", false)?;
        if items.len() > limits::ENVIRONMENT {
            self.fail(
                "environment",
                format!("must list at most {} variables", limits::ENVIRONMENT),
            );
        }
        let mut seen = BTreeSet::new();
        let mut vars = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("environment[{i}]");
            let Some(obj) = self.object_at(item, &path) else {
                continue;
            };
            self.no_unknown(obj, &path, &["name", "description", "required"]);
            let name = match obj.get("name") {
                None | Some(Value::Null) => {
                    self.fail(format!("{path}.name"), "is required");
                    None
                }
                Some(value) => self
                    .string_at(value, &format!("{path}.name"))
                    .and_then(|n| {
                        if let Err(m) = check_env_name(n) {
                            self.fail(format!("{path}.name"), m);
                            None
                        } else if !seen.insert(n.to_owned()) {
                            self.fail(format!("{path}.name"), format!("duplicate variable {n:?}"));
                            None
                        } else {
                            Some(n.to_owned())
                        }
                    }),
            };
            let description = self.nested_text(obj, &path, "description", limits::DESCRIPTION);
            let required = match obj.get("required") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    self.fail(
                        format!("{path}.required"),
                        format!("must be true or false, not {}", kind_of(other)),
                    );
                    false
                }
            };
            if let (Some(name), Some(description)) = (name, description) {
                vars.push(EnvironmentVariable {
                    name,
                    description,
                    required,
                });
            }
        }
        Some(vars)
    }

    fn dependencies(
        &mut self,
        map: &Map<String, Value>,
        own: Option<&Slug>,
    ) -> Option<BTreeMap<String, String>> {
        let value = self.field(map, "dependencies", false)?;
        let obj = self.object_at(value, "dependencies")?;
        if obj.len() > limits::DEPENDENCIES {
            self.fail(
                "dependencies",
                format!("must list at most {} plugins", limits::DEPENDENCIES),
            );
        }
        let mut deps = BTreeMap::new();
        for (slug, req) in obj {
            let path = format!("dependencies.{slug}");
            if let Err(m) = Slug::parse(slug) {
                self.fail(&path, format!("the key must be a plugin slug: it {m}"));
                continue;
            }
            if own.is_some_and(|own| own.as_str() == slug) {
                self.fail(&path, "a plugin cannot depend on itself");
                continue;
            }
            let Some(req) = self.string_at(req, &path) else {
                continue;
            };
            match semver::VersionReq::parse(req) {
                Ok(_) => {
                    deps.insert(slug.clone(), req.to_owned());
                }
                Err(e) => self.fail(
                    &path,
                    format!("must be a semver requirement such as \"^1.2\" ({e})"),
                ),
            }
        }
        Some(deps)
    }

    fn compatibility(&mut self, map: &Map<String, Value>) -> Option<Compatibility> {
        let value = self.field(map, "compatibility", false)?;
        let obj = self.object_at(value, "compatibility")?;
        self.no_unknown(obj, "compatibility", &["min", "max"]);
        let mut bound = |key: &str| -> Option<(String, semver::Version)> {
            let path = format!("compatibility.{key}");
            let raw = match obj.get(key) {
                None | Some(Value::Null) => return None,
                Some(value) => self.string_at(value, &path)?,
            };
            match semver::Version::parse(raw) {
                Ok(v) => Some((raw.to_owned(), v)),
                Err(e) => {
                    self.fail(
                        path,
                        format!("must be an OpenWorkflow version such as 1.0.0 ({e})"),
                    );
                    None
                }
            }
        };
        let min = bound("min");
        let max = bound("max");
        if let (Some((_, lo)), Some((_, hi))) = (&min, &max)
            && lo > hi
        {
            self.fail("compatibility", "min must not be greater than max");
        }
        Some(Compatibility {
            min: min.map(|(s, _)| s),
            max: max.map(|(s, _)| s),
        })
    }

    fn support(&mut self, map: &Map<String, Value>) -> Option<String> {
        let value = self.field(map, "support", false)?;
        let s = self.string_at(value, "support")?;
        let ok = check_http_url(s).is_ok()
            || s.starts_with("mailto:") && s.len() > 7
            || looks_like_email(s);
        if ok && s.len() <= limits::URL {
            Some(s.to_owned())
        } else {
            self.fail(
                "support",
                "must be an http(s) URL, a mailto: URL or an e-mail address",
            );
            None
        }
    }

    fn signature(&mut self, map: &Map<String, Value>) -> Option<Signature> {
        let value = self.field(map, "signature", false)?;
        let obj = self.object_at(value, "signature")?;
        self.no_unknown(obj, "signature", &["type", "key_id", "signature"]);
        let kind = self.nested_text(obj, "signature", "type", 16);
        if let Some(k) = &kind
            && k != "gpg"
        {
            self.fail("signature.type", "must be \"gpg\"");
        }
        let key_id = self.nested_text(obj, "signature", "key_id", 64);
        if let Some(id) = &key_id {
            let hex_part = id
                .strip_prefix("0x")
                .or_else(|| id.strip_prefix("0X"))
                .unwrap_or(id);
            if !(8..=40).contains(&hex_part.len())
                || !hex_part.chars().all(|c| c.is_ascii_hexdigit())
            {
                self.fail(
                    "signature.key_id",
                    "must be a key id of 8 to 40 hex digits, such as 0x1234ABCD",
                );
            }
        }
        let armored = self.nested_text(obj, "signature", "signature", limits::SIGNATURE);
        if let Some(text) = &armored
            && !(text.starts_with("-----BEGIN PGP SIGNATURE-----")
                && text.ends_with("-----END PGP SIGNATURE-----"))
        {
            self.fail(
                "signature.signature",
                "must be an ASCII-armored PGP signature (BEGIN/END PGP SIGNATURE)",
            );
        }
        match (kind, key_id, armored) {
            (Some(kind), Some(key_id), Some(signature)) => Some(Signature {
                kind,
                key_id,
                signature,
            }),
            _ => None,
        }
    }

    fn capabilities(&mut self, map: &Map<String, Value>) -> Option<Vec<String>> {
        let items = self.list(map, "capabilities", false)?;
        let before = self.errors.len();
        if items.len() > limits::CAPABILITIES {
            self.fail(
                "capabilities",
                format!("must list at most {} capabilities", limits::CAPABILITIES),
            );
        }
        let mut seen = BTreeSet::new();
        let mut capabilities = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("capabilities[{i}]");
            let Some(capability) = self.string_at(item, &path) else {
                continue;
            };
            if let Err(m) = check_capability(capability) {
                self.fail(&path, m);
            } else if !seen.insert(capability) {
                self.fail(&path, format!("duplicate capability {capability:?}"));
            } else {
                capabilities.push(capability.to_owned());
            }
        }
        (self.errors.len() == before).then_some(capabilities)
    }

    fn settings_schema(&mut self, map: &Map<String, Value>) -> Option<Value> {
        let value = self.field(map, "settings_schema", false)?;
        let problems = validate_settings_schema(value, "settings_schema");
        if problems.is_empty() {
            Some(value.clone())
        } else {
            self.errors.extend(problems);
            None
        }
    }
}

fn check_capability(capability: &str) -> Result<(), String> {
    let mut chars = capability.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok
        || capability.len() > limits::CAPABILITY
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.:".contains(c))
    {
        return Err(format!(
            "must start with a lowercase letter and hold only lowercase letters, digits, '_', '-', '.' or ':' (at most {} characters)",
            limits::CAPABILITY
        ));
    }
    Ok(())
}

/// Accepts absolute `http`/`https` URLs with a host, up to [`limits::URL`] bytes.
pub(crate) fn check_http_url(raw: &str) -> Result<(), String> {
    if raw.len() > limits::URL {
        return Err(format!("must be at most {} bytes", limits::URL));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("must be an absolute http(s) URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must use http or https, not {}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".to_owned());
    }
    Ok(())
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.len() <= 254
}

/// Letters of either case, digits and `-`; case is normalized away after the check
/// (`AI` is the tag `ai`), in the parsed manifest only, never in the stored bytes.
fn check_tag(tag: &str) -> Result<(), String> {
    let len = tag.chars().count();
    if len == 0 || len > limits::TAG {
        return Err(format!("must be 1 to {} characters", limits::TAG));
    }
    if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("may contain only letters, digits and '-'".to_owned());
    }
    if tag.starts_with('-') || tag.ends_with('-') {
        return Err("must start and end with a letter or digit".to_owned());
    }
    Ok(())
}

/// MCP's tool-name alphabet (letters, digits, `_`, `-`, `.`, up to 128), except a
/// leading `-` or `.`, which reads as a command-line option or a hidden name.
fn check_action_name(name: &str) -> Result<(), String> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok || name.len() > limits::ACTION_NAME {
        return Err(format!(
            "must start with a letter, digit or '_' and be at most {} characters",
            limits::ACTION_NAME
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err("may contain only letters, digits, '_', '-' and '.'".to_owned());
    }
    Ok(())
}

/// Any portable name (POSIX's `[A-Za-z_][A-Za-z0-9_]*`): published MCP servers use
/// `comfy_url` as well as `GITHUB_TOKEN`. Names are case-sensitive, as the variables are.
fn check_env_name(name: &str) -> Result<(), String> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok
        || name.len() > limits::ENV_NAME
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!(
            "must be a portable variable name (letters, digits and '_', not starting with a digit), at most {} characters",
            limits::ENV_NAME
        ));
    }
    Ok(())
}

fn check_memory(raw: &str) -> Result<(), String> {
    let err =
        || "must be an amount such as 128MB or 2GB (units KB, MB, GB), from 1MB to 64GB".to_owned();
    let split = raw.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (digits, unit) = raw.split_at(split);
    let amount: u64 = digits.parse().map_err(|_| err())?;
    let kib = match unit {
        "KB" => amount,
        "MB" => amount.saturating_mul(1024),
        "GB" => amount.saturating_mul(1024 * 1024),
        _ => return Err(err()),
    };
    if (1024..=64 * 1024 * 1024).contains(&kib) {
        Ok(())
    } else {
        Err(err())
    }
}

#[cfg(test)]
mod tests {
    //! One row per rule: a valid manifest, one change, and the field and message
    //! the change must produce. The whole table is snapshotted, so a changed
    //! message shows in review; each row also checks it named the field it broke.
    #![allow(clippy::unwrap_used, clippy::panic)]

    use serde_json::{Value, json};

    use super::*;

    /// The spec's GitHub example with every optional section filled.
    fn valid() -> Value {
        json!({
            "slug": "github",
            "version": "1.2.0",
            "name": "GitHub Integration",
            "description": "Interact with GitHub repositories, issues, and pull requests",
            "author": "OpenWorkflow Community",
            "homepage": "https://docs.openworkflowspec.org/plugins/github",
            "repository": "https://github.com/Open-Workflow/connector-github",
            "license": "MIT",
            "icon": "https://docs.openworkflowspec.org/plugins/github/icon.svg",
            "tags": ["vcs", "github"],
            "actions": [
                {"name": "create_issue", "description": "Create a new issue"},
                {"name": "list_repos", "description": "List repositories"}
            ],
            "runtime": {"memory": "512MB", "timeout": 60},
            "environment": [
                {"name": "GITHUB_TOKEN", "description": "A token", "required": true}
            ],
            "changelog": "First release",
            "dependencies": {"http": "^1.0"},
            "compatibility": {"min": "1.0.0", "max": "2.0.0"},
            "security": "https://github.com/Open-Workflow/connector-github/security",
            "support": "support@openworkflowspec.org",
            "capabilities": ["network"]
        })
    }

    /// `path` is a dotted path with `[i]` indexes; `None` removes the field.
    fn with(path: &str, value: Option<Value>) -> Value {
        let mut document = valid();
        let mut parts: Vec<String> = path
            .replace('[', ".")
            .replace(']', "")
            .split('.')
            .map(str::to_owned)
            .collect();
        let last = parts.pop().unwrap();
        let mut at = &mut document;
        for part in parts {
            at = match part.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[part.as_str()],
            };
        }
        match (value, last.parse::<usize>()) {
            (Some(value), Ok(i)) => at[i] = value,
            (Some(value), Err(_)) => at[last.as_str()] = value,
            (None, _) => {
                at.as_object_mut().unwrap().remove(&last);
            }
        }
        document
    }

    /// (rule, the field it must name, the document breaking it).
    fn rules() -> Vec<(&'static str, &'static str, Value)> {
        let long = |n: usize| json!("x".repeat(n));
        vec![
            ("document is a mapping", "", json!(["slug"])),
            (
                "unknown field",
                "colour",
                with("colour", Some(json!("red"))),
            ),
            ("slug required", "slug", with("slug", None)),
            ("slug charset", "slug", with("slug", Some(json!("Git_Hub")))),
            ("slug is text", "slug", with("slug", Some(json!(7)))),
            ("version required", "version", with("version", None)),
            (
                "version is semver",
                "version",
                with("version", Some(json!("1.2"))),
            ),
            ("name required", "name", with("name", None)),
            ("name not blank", "name", with("name", Some(json!("  ")))),
            (
                "name length",
                "name",
                with("name", Some(long(limits::NAME + 1))),
            ),
            (
                "description required",
                "description",
                with("description", None),
            ),
            ("author required", "author", with("author", None)),
            (
                "homepage is a URL",
                "homepage",
                with("homepage", Some(json!("docs"))),
            ),
            (
                "homepage is http(s)",
                "homepage",
                with("homepage", Some(json!("ftp://h.io/"))),
            ),
            (
                "repository required",
                "repository",
                with("repository", None),
            ),
            ("icon required", "icon", with("icon", None)),
            (
                "license is SPDX",
                "license",
                with("license", Some(json!("Most Permissive"))),
            ),
            ("tags are a list", "tags", with("tags", Some(json!("vcs")))),
            (
                "tag charset",
                "tags[0]",
                with("tags[0]", Some(json!("Version Control"))),
            ),
            (
                "tag duplicate ignoring case",
                "tags[1]",
                with("tags[1]", Some(json!("VCS"))),
            ),
            (
                "tag duplicate",
                "tags[1]",
                with("tags[1]", Some(json!("vcs"))),
            ),
            (
                "tag length",
                "tags[0]",
                with("tags[0]", Some(long(limits::TAG + 1))),
            ),
            (
                "tag count",
                "tags",
                with(
                    "tags",
                    Some(json!(
                        (0..=limits::TAGS)
                            .map(|i| format!("t{i}"))
                            .collect::<Vec<_>>()
                    )),
                ),
            ),
            ("actions required", "actions", with("actions", None)),
            (
                "actions not empty",
                "actions",
                with("actions", Some(json!([]))),
            ),
            (
                "action name charset",
                "actions[0].name",
                with("actions[0].name", Some(json!("Create Issue"))),
            ),
            (
                "action name looks like an option",
                "actions[0].name",
                with("actions[0].name", Some(json!("-rf"))),
            ),
            (
                "action name duplicate",
                "actions[1].name",
                with("actions[1].name", Some(json!("create_issue"))),
            ),
            (
                "action description required",
                "actions[0].description",
                with("actions[0].description", None),
            ),
            (
                "action unknown field",
                "actions[0].colour",
                with("actions[0].colour", Some(json!("red"))),
            ),
            (
                "runtime memory form",
                "runtime.memory",
                with("runtime.memory", Some(json!("lots"))),
            ),
            (
                "runtime timeout bound",
                "runtime.timeout",
                with("runtime.timeout", Some(json!(limits::TIMEOUT_SECS + 1))),
            ),
            (
                "runtime timeout positive",
                "runtime.timeout",
                with("runtime.timeout", Some(json!(0))),
            ),
            (
                "environment name form",
                "environment[0].name",
                with("environment[0].name", Some(json!("github-token"))),
            ),
            (
                "environment name starts with a digit",
                "environment[0].name",
                with("environment[0].name", Some(json!("2FA_CODE"))),
            ),
            (
                "environment name duplicate",
                "environment[1].name",
                with(
                    "environment",
                    Some(json!([
                        {"name": "API_KEY", "description": "A key"},
                        {"name": "API_KEY", "description": "The same key"}
                    ])),
                ),
            ),
            (
                "environment required is boolean",
                "environment[0].required",
                with("environment[0].required", Some(json!("yes"))),
            ),
            (
                "changelog length",
                "changelog",
                with("changelog", Some(long(limits::CHANGELOG + 1))),
            ),
            (
                "dependency key is a slug",
                "dependencies.Not_A_Slug",
                with("dependencies", Some(json!({"Not_A_Slug": "^1"}))),
            ),
            (
                "dependency on itself",
                "dependencies.github",
                with("dependencies", Some(json!({"github": "^1"}))),
            ),
            (
                "dependency requirement",
                "dependencies.http",
                with("dependencies.http", Some(json!("newest"))),
            ),
            (
                "compatibility order",
                "compatibility",
                with("compatibility.min", Some(json!("3.0.0"))),
            ),
            (
                "compatibility unknown field",
                "compatibility.exact",
                with("compatibility.exact", Some(json!("1.0.0"))),
            ),
            (
                "security is a URL",
                "security",
                with("security", Some(json!("email me"))),
            ),
            (
                "support is an email or URL",
                "support",
                with("support", Some(json!("ask around"))),
            ),
            (
                "signature type",
                "signature.type",
                with(
                    "signature",
                    Some(
                        json!({"type": "pgp-ish", "key_id": "0123456789ABCDEF", "signature": "-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----"}),
                    ),
                ),
            ),
            (
                "capability duplicate",
                "capabilities[1]",
                with("capabilities", Some(json!(["network", "network"]))),
            ),
            (
                "capability charset",
                "capabilities[0]",
                with("capabilities[0]", Some(json!("Network Access"))),
            ),
            (
                "settings schema is an object schema",
                "settings_schema",
                with("settings_schema", Some(json!("text"))),
            ),
        ]
    }

    #[test]
    fn the_valid_manifest_is_valid() {
        let result = validate_manifest(&valid());
        assert!(result.is_ok(), "{:?}", result.err());
    }

    /// Names real plugins use, which earlier rules refused for style alone.
    #[test]
    fn unconventional_but_unambiguous_names_are_accepted() {
        let mut document = with(
            "environment",
            Some(json!([
                {"name": "comfy_url", "description": "ComfyUI's URL"},
                {"name": "google_access_token", "description": "A token"},
                {"name": "Mixed_Case9", "description": "Mixed"},
                {"name": "_PRIVATE", "description": "Leading underscore"},
                {"name": "api_key", "description": "Lower"},
                {"name": "API_KEY", "description": "Upper: another variable"}
            ])),
        );
        document["tags"] = json!(["AI", "LLM-Tools", "vcs"]);
        document["actions"] = json!([
            {"name": "_internal.ping", "description": "Ping"},
            {"name": "3d-render", "description": "Render"},
            {"name": "a".repeat(limits::ACTION_NAME), "description": "Long"}
        ]);
        let manifest = validate_manifest(&document).unwrap();
        let names: Vec<_> = manifest
            .environment
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(
            names,
            [
                "comfy_url",
                "google_access_token",
                "Mixed_Case9",
                "_PRIVATE",
                "api_key",
                "API_KEY"
            ]
        );
        assert_eq!(manifest.tags, ["ai", "llm-tools", "vcs"]);
    }

    #[test]
    fn each_rule_names_its_field_and_says_what_to_fix() {
        let mut table = String::new();
        let mut wrong = Vec::new();
        for (rule, field, document) in rules() {
            let errors = match validate_manifest(&document) {
                Ok(_) => {
                    wrong.push(format!("{rule}: the document passed"));
                    continue;
                }
                Err(errors) => errors,
            };
            match errors.iter().find(|e| e.field == field) {
                Some(error) => table.push_str(&format!("{rule} | {field} | {}\n", error.message)),
                None => wrong.push(format!(
                    "{rule}: no problem names {field:?}; got {errors:?}"
                )),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        insta::assert_snapshot!(table);
    }
}
