//! Installing a plugin version: details, then the schema (and bundle) checked
//! against the SHA-256 the details name, then the local store.

use std::path::PathBuf;

use bytes::Bytes;
use registry_core::manifest::DocumentFormat;
use registry_core::timestamp::{Clock, SystemClock};

use crate::client::{ClientError, PluginDetails, RegistryClient};
use crate::store::{InstalledPlugin, PluginStore};

/// What an install did.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The version's details, as the registry gave them (deprecation included).
    pub details: PluginDetails,
    /// What the store now records.
    pub record: InstalledPlugin,
    /// Where the files are.
    pub dir: PathBuf,
    /// The schema document, byte for byte as published.
    pub schema: Bytes,
}

/// Installs `slug` at `version` (the latest when `None`) from `client`'s registry
/// into `store`. Nothing is written unless every download matches its checksum.
pub async fn install_plugin(
    client: &RegistryClient,
    store: &PluginStore,
    slug: &str,
    version: Option<&str>,
) -> Result<Installed, ClientError> {
    let details = client.plugin_details(slug, version).await?;
    let schema = client
        .schema(&details.slug, &details.version, &details.sha256)
        .await?;
    let bundle = match &details.bundle_sha256 {
        Some(sha256) => Some(
            client
                .bundle(&details.slug, &details.version, sha256)
                .await?,
        ),
        None => None,
    };
    let format = sniff_format(&schema);
    let record = InstalledPlugin {
        slug: details.slug.clone(),
        version: details.version.clone(),
        registry: client.registry_url(),
        sha256: details.sha256.clone(),
        schema_file: format!("plugin.{}", format.extension()),
        bundle_sha256: details.bundle_sha256.clone(),
        installed_at: SystemClock.now().to_string(),
    };
    let dir = store.install(&record, &schema, bundle.as_deref())?;
    Ok(Installed {
        details,
        record,
        dir,
        schema,
    })
}

/// JSON when the document opens with `{`, else YAML: the two formats a schema
/// is published in.
pub fn sniff_format(bytes: &[u8]) -> DocumentFormat {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => DocumentFormat::Json,
        _ => DocumentFormat::Yaml,
    }
}
