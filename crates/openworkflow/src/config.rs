//! Which registry to talk to and with which key.
//!
//! Precedence, highest first: the `--registry` flag; the `OPENWORKFLOW_REGISTRY_URL`
//! and `OPENWORKFLOW_REGISTRY_API_KEY` variables (the spec's names); the config
//! file; the public registry. A key from the config file is the one stored for the
//! chosen registry, so a key for a private registry is never sent to another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::{ApiKey, DEFAULT_REGISTRY};

/// Variable naming the registry.
pub const REGISTRY_URL_VAR: &str = "OPENWORKFLOW_REGISTRY_URL";
/// Variable holding the API key.
pub const API_KEY_VAR: &str = "OPENWORKFLOW_REGISTRY_API_KEY";
/// Variable overriding the config file's path.
pub const CONFIG_VAR: &str = "OPENWORKFLOW_CONFIG";
/// Variable overriding where installed plugins live.
pub const PLUGIN_DIR_VAR: &str = "OPENWORKFLOW_PLUGIN_DIR";

/// Why configuration could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A registry URL that does not parse or is not http(s).
    #[error("registry URL {url:?} ({from}) is not valid: {detail}")]
    BadRegistryUrl {
        /// The URL given.
        url: String,
        /// Where it came from.
        from: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The config file exists but does not parse.
    #[error("config file {path}: {detail}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The config file could not be read or written.
    #[error("config file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// No home directory to put the config or plugins in.
    #[error("no home directory: set HOME, or {0}")]
    NoHome(&'static str),
}

/// The config file (`$XDG_CONFIG_HOME/openworkflow/config.toml`).
///
/// ```toml
/// registry = "https://registry.mycompany.com"
///
/// [keys]
/// "https://registry.mycompany.com" = "sk_..."
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The registry used when neither flag nor variable names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// API keys by registry URL.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, String>,
    /// Index signing keys (hex) by registry URL, pinned on first verification.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub index_keys: BTreeMap<String, String>,
}

impl ConfigFile {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::BadFile {
                path: path.to_owned(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the file readable by its owner only (0600), since it holds keys.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::BadFile {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        // Written under a temporary name created 0600, then renamed, so the key is
        // never readable by others, not even for a moment.
        let temp = path.with_extension("toml.tmp");
        write_private(&temp, text.as_bytes()).map_err(io)?;
        std::fs::rename(&temp, path).map_err(io)
    }

    /// The key stored for `registry`.
    pub fn key_for(&self, registry: &str) -> Option<ApiKey> {
        self.keys
            .get(registry.trim_end_matches('/'))
            .map(ApiKey::new)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: make sure.
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Where a setting came from, for `--verbose` output and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Environment,
    /// The config file.
    ConfigFile,
    /// The built-in default.
    Default,
}

/// The settled registry and key.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The registry, without a trailing slash.
    pub registry: Url,
    /// Where `registry` came from.
    pub registry_from: Source,
    /// The key to send, if any.
    pub api_key: Option<ApiKey>,
    /// Where the key came from.
    pub api_key_from: Option<Source>,
}

impl Settings {
    /// The registry URL as people write it, without a trailing slash.
    pub fn registry_text(&self) -> String {
        self.registry.as_str().trim_end_matches('/').to_owned()
    }

    /// Settles the registry and key from the flag, the environment (`env`) and
    /// the config file, in that order.
    pub fn resolve(
        flag: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
        file: &ConfigFile,
    ) -> Result<Self, ConfigError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let (raw, from, what) = if let Some(flag) = flag {
            (flag.to_owned(), Source::Flag, "--registry")
        } else if let Some(url) = env(REGISTRY_URL_VAR) {
            (url, Source::Environment, REGISTRY_URL_VAR)
        } else if let Some(url) = &file.registry {
            (url.clone(), Source::ConfigFile, "config file")
        } else {
            (DEFAULT_REGISTRY.to_owned(), Source::Default, "default")
        };
        let registry = parse_registry_url(&raw, what)?;
        let (api_key, api_key_from) = match env(API_KEY_VAR) {
            Some(key) => (Some(ApiKey::new(key)), Some(Source::Environment)),
            None => match file.key_for(registry.as_str()) {
                Some(key) => (Some(key), Some(Source::ConfigFile)),
                None => (None, None),
            },
        };
        Ok(Self {
            registry,
            registry_from: from,
            api_key,
            api_key_from,
        })
    }
}

/// A registry URL: http or https, no query or fragment; the trailing slash dropped.
pub fn parse_registry_url(raw: &str, from: &'static str) -> Result<Url, ConfigError> {
    let bad = |detail: &str| ConfigError::BadRegistryUrl {
        url: raw.to_owned(),
        from,
        detail: detail.to_owned(),
    };
    let url = Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("use an http:// or https:// URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a registry URL has no query or fragment"));
    }
    let trimmed = url.as_str().trim_end_matches('/').to_owned();
    Url::parse(&trimmed).map_err(|e| bad(&e.to_string()))
}

/// The config file's path: `$OPENWORKFLOW_CONFIG`, else
/// `$XDG_CONFIG_HOME/openworkflow/config.toml`, else `~/.config/openworkflow/config.toml`.
pub fn config_path(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = env(CONFIG_VAR).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    Ok(xdg_dir(&env, "XDG_CONFIG_HOME", ".config", CONFIG_VAR)?.join("config.toml"))
}

/// Where installed plugins live: `$OPENWORKFLOW_PLUGIN_DIR`, else
/// `$XDG_DATA_HOME/openworkflow/plugins`, else `~/.local/share/openworkflow/plugins`.
pub fn plugin_dir(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = env(PLUGIN_DIR_VAR).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    Ok(xdg_dir(&env, "XDG_DATA_HOME", ".local/share", PLUGIN_DIR_VAR)?.join("plugins"))
}

/// Where downloads are cached: `$XDG_CACHE_HOME/openworkflow`, else
/// `~/.cache/openworkflow`.
pub fn cache_dir(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, ConfigError> {
    xdg_dir(&env, "XDG_CACHE_HOME", ".cache", "XDG_CACHE_HOME")
}

fn xdg_dir(
    env: &impl Fn(&str) -> Option<String>,
    variable: &str,
    under_home: &str,
    alternative: &'static str,
) -> Result<PathBuf, ConfigError> {
    // The XDG spec ignores relative paths in these variables.
    if let Some(base) = env(variable).filter(|p| Path::new(p).is_absolute()) {
        return Ok(PathBuf::from(base).join("openworkflow"));
    }
    let home = env("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(ConfigError::NoHome(alternative))?;
    Ok(PathBuf::from(home).join(under_home).join("openworkflow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn file() -> ConfigFile {
        ConfigFile {
            registry: Some("https://from-file.example.com/".to_owned()),
            keys: BTreeMap::from([
                (
                    "https://from-file.example.com".to_owned(),
                    "sk_file".to_owned(),
                ),
                ("https://flag.example.com".to_owned(), "sk_flag".to_owned()),
            ]),
            index_keys: BTreeMap::from([(
                "https://from-file.example.com".to_owned(),
                "ab".repeat(32),
            )]),
        }
    }

    #[test]
    fn the_flag_beats_the_environment_beats_the_file_beats_the_default() {
        let env = env_of(&[(REGISTRY_URL_VAR, "https://env.example.com")]);
        let s = Settings::resolve(Some("https://flag.example.com/"), &env, &file()).unwrap();
        assert_eq!(
            (s.registry.as_str(), s.registry_from),
            ("https://flag.example.com/", Source::Flag)
        );
        // The file's key for the flag's registry, not the file's default registry's.
        assert_eq!(s.api_key.as_ref().map(ApiKey::expose), Some("sk_flag"));

        let s = Settings::resolve(None, &env, &file()).unwrap();
        assert_eq!(s.registry_from, Source::Environment);
        assert_eq!(s.api_key, None, "no key is stored for env.example.com");

        let s = Settings::resolve(None, env_of(&[]), &file()).unwrap();
        assert_eq!(s.registry.as_str(), "https://from-file.example.com/");
        assert_eq!(
            (s.api_key.as_ref().map(ApiKey::expose), s.api_key_from),
            (Some("sk_file"), Some(Source::ConfigFile))
        );

        let s = Settings::resolve(None, env_of(&[]), &ConfigFile::default()).unwrap();
        assert_eq!(
            (s.registry.as_str().trim_end_matches('/'), s.registry_from),
            (DEFAULT_REGISTRY, Source::Default)
        );
    }

    #[test]
    fn the_key_variable_beats_the_file_and_empty_variables_count_as_unset() {
        let env = env_of(&[(API_KEY_VAR, "sk_env"), (REGISTRY_URL_VAR, "  ")]);
        let s = Settings::resolve(None, env, &file()).unwrap();
        assert_eq!(s.registry_from, Source::ConfigFile);
        assert_eq!(
            (s.api_key.as_ref().map(ApiKey::expose), s.api_key_from),
            (Some("sk_env"), Some(Source::Environment))
        );
    }

    #[test]
    fn registry_urls_must_be_plain_http_or_https() {
        for bad in [
            "ftp://x.example.com",
            "not a url",
            "https://x.example.com/?a=1",
        ] {
            let error = Settings::resolve(Some(bad), env_of(&[]), &ConfigFile::default())
                .expect_err(bad)
                .to_string();
            assert!(error.contains("--registry"), "{error}");
        }
    }

    #[test]
    fn paths_follow_xdg_then_home() {
        let env = env_of(&[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "/cfg")]);
        assert_eq!(
            config_path(&env).unwrap(),
            PathBuf::from("/cfg/openworkflow/config.toml")
        );
        assert_eq!(
            plugin_dir(&env).unwrap(),
            PathBuf::from("/home/a/.local/share/openworkflow/plugins")
        );
        // Relative XDG values are ignored, as the XDG spec says.
        let env = env_of(&[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "rel")]);
        assert_eq!(
            config_path(&env).unwrap(),
            PathBuf::from("/home/a/.config/openworkflow/config.toml")
        );
        assert!(matches!(
            config_path(env_of(&[])),
            Err(ConfigError::NoHome(CONFIG_VAR))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_saved_file_is_private_and_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/config.toml");
        let file = file();
        file.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(ConfigFile::load(&path).unwrap(), file);
        assert_eq!(
            ConfigFile::load(&dir.path().join("missing.toml")).unwrap(),
            ConfigFile::default()
        );
        std::fs::write(&path, "registry = 3").unwrap();
        assert!(matches!(
            ConfigFile::load(&path),
            Err(ConfigError::BadFile { .. })
        ));
    }
}
