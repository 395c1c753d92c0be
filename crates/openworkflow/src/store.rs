//! Plugins installed on this machine: `{root}/{slug}/{version}/` holds the schema
//! exactly as downloaded, the bundle if there is one, and `installed.json` saying
//! where it came from and what it hashed to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::ClientError;

/// What the store records about one installed version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPlugin {
    /// Plugin slug.
    pub slug: String,
    /// Installed version.
    pub version: String,
    /// The registry it came from, or `local` for a project file.
    pub registry: String,
    /// SHA-256 of the schema file, as the registry's details gave it.
    pub sha256: String,
    /// The schema's file name inside the version's directory.
    pub schema_file: String,
    /// SHA-256 of the bundle, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_sha256: Option<String>,
    /// When it was installed (RFC 3339).
    pub installed_at: String,
}

/// The name of the record in each installed version's directory.
const RECORD_FILE: &str = "installed.json";
/// The bundle's file name in an installed version's directory.
pub const BUNDLE_FILE: &str = "bundle.zip";

/// The directory of installed plugins.
#[derive(Debug, Clone)]
pub struct PluginStore {
    root: PathBuf,
}

impl PluginStore {
    /// The store rooted at `root` (created on first install).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory of one installed version.
    pub fn version_dir(&self, slug: &str, version: &str) -> PathBuf {
        self.root.join(slug).join(version)
    }

    /// Writes a version's files, then its record; a reader never sees a record
    /// naming files that are not there yet. Replaces an earlier install of it.
    pub fn install(
        &self,
        record: &InstalledPlugin,
        schema: &[u8],
        bundle: Option<&[u8]>,
    ) -> Result<PathBuf, ClientError> {
        let dir = self.version_dir(&record.slug, &record.version);
        let staging = self.root.join(&record.slug).join(format!(
            ".{}.partial-{}",
            record.version,
            std::process::id()
        ));
        let io = |path: &Path| {
            let path = path.to_owned();
            move |e| ClientError::io(path, e)
        };
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(io(&staging))?;
        let write = |name: &str, bytes: &[u8]| {
            let path = staging.join(name);
            std::fs::write(&path, bytes).map_err(io(&path))
        };
        write(&record.schema_file, schema)?;
        if let Some(bundle) = bundle {
            write(BUNDLE_FILE, bundle)?;
        }
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| ClientError::io(&staging, std::io::Error::other(e)))?;
        write(RECORD_FILE, &json)?;
        // The finished directory replaces any earlier copy in one rename.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&staging, &dir).map_err(io(&dir))?;
        Ok(dir)
    }

    /// Every installed version, by slug then version (as text).
    pub fn list(&self) -> Result<Vec<InstalledPlugin>, ClientError> {
        let mut found = Vec::new();
        let slugs = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(ClientError::io(&self.root, e)),
        };
        for slug in slugs.flatten() {
            let Ok(versions) = std::fs::read_dir(slug.path()) else {
                continue;
            };
            for version in versions.flatten() {
                if version.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                if let Some(record) = read_record(&version.path()) {
                    found.push(record);
                }
            }
        }
        found.sort_by(|a, b| (&a.slug, &a.version).cmp(&(&b.slug, &b.version)));
        Ok(found)
    }

    /// One installed version's record, if it is installed.
    pub fn get(&self, slug: &str, version: &str) -> Option<InstalledPlugin> {
        read_record(&self.version_dir(slug, version))
    }
}

fn read_record(dir: &Path) -> Option<InstalledPlugin> {
    let bytes = std::fs::read(dir.join(RECORD_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(slug: &str, version: &str) -> InstalledPlugin {
        InstalledPlugin {
            slug: slug.to_owned(),
            version: version.to_owned(),
            registry: "https://registry.example.com".to_owned(),
            sha256: "ab".repeat(32),
            schema_file: "plugin.yaml".to_owned(),
            bundle_sha256: None,
            installed_at: "2026-01-01T00:00:00Z".to_owned(),
        }
    }

    #[test]
    fn installs_list_in_order_and_reinstalls_replace() {
        let dir = tempfile::tempdir().unwrap();
        let store = PluginStore::new(dir.path().join("plugins"));
        assert!(store.list().unwrap().is_empty(), "a missing store is empty");
        store
            .install(&record("weather", "1.0.0"), b"a", None)
            .unwrap();
        store
            .install(&record("github", "1.2.0"), b"b", Some(b"PK"))
            .unwrap();
        let mut again = record("weather", "1.0.0");
        again.installed_at = "2026-02-01T00:00:00Z".to_owned();
        let path = store.install(&again, b"c", None).unwrap();
        assert_eq!(std::fs::read(path.join("plugin.yaml")).unwrap(), b"c");
        let listed = store.list().unwrap();
        assert_eq!(listed, vec![record("github", "1.2.0"), again]);
        assert_eq!(
            std::fs::read(store.version_dir("github", "1.2.0").join(BUNDLE_FILE)).unwrap(),
            b"PK"
        );
        assert_eq!(store.get("github", "9.9.9"), None);
    }
}
