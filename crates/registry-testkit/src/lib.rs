//! Test fixtures shared by every crate's tests: one builder for plugins (the
//! manifest as YAML or JSON, a ZIP bundle around it, their SHA-256), and the ZIP
//! and hash helpers the suites used to copy, and the certified OpenID provider
//! the sign-in suites run ([`oidc`]). Test code only: nothing here is linked
//! into a binary.
#![allow(clippy::expect_used, clippy::panic)]

pub mod ci_issuer;
pub mod oidc;
pub mod postgres;
mod process;
pub mod smtp;

use std::io::{Cursor, Write};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A valid plugin, field by field; each setter changes one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPlugin {
    slug: String,
    version: String,
    name: String,
    description: String,
    author: String,
    license: String,
    tags: Vec<String>,
    actions: Vec<(String, String)>,
}

impl TestPlugin {
    /// `slug@version` with every required field filled.
    pub fn new(slug: &str, version: &str) -> Self {
        Self {
            slug: slug.to_owned(),
            version: version.to_owned(),
            name: format!("{slug} plugin"),
            description: "Does useful things".to_owned(),
            author: "Test Author".to_owned(),
            license: "Apache-2.0".to_owned(),
            tags: vec!["tools".to_owned()],
            actions: vec![("run".to_owned(), "Run it".to_owned())],
        }
    }

    /// With this display name.
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// With this description.
    pub fn description(mut self, description: &str) -> Self {
        description.clone_into(&mut self.description);
        self
    }

    /// With this author.
    pub fn author(mut self, author: &str) -> Self {
        author.clone_into(&mut self.author);
        self
    }

    /// With this SPDX license expression.
    pub fn license(mut self, license: &str) -> Self {
        license.clone_into(&mut self.license);
        self
    }

    /// With exactly these tags.
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    /// With exactly one action.
    pub fn action(mut self, name: &str, description: &str) -> Self {
        self.actions = vec![(name.to_owned(), description.to_owned())];
        self
    }

    /// The manifest as a JSON value.
    pub fn manifest(&self) -> Value {
        json!({
            "slug": self.slug,
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "author": self.author,
            "homepage": format!("https://example.com/{}", self.slug),
            "repository": format!("https://github.com/example/{}", self.slug),
            "license": self.license,
            "icon": format!("https://example.com/{}.svg", self.slug),
            "tags": self.tags,
            "actions": self.actions.iter()
                .map(|(name, description)| json!({"name": name, "description": description}))
                .collect::<Vec<_>>(),
        })
    }

    /// The manifest as YAML, one field per line in the order people write them
    /// (so a test can edit a line with `replace`).
    pub fn yaml(&self) -> String {
        let mut yaml = format!(
            "slug: {}\nversion: {}\nname: {}\ndescription: {}\nauthor: {}\n\
             homepage: https://example.com/{slug}\nrepository: https://github.com/example/{slug}\n\
             license: {}\nicon: https://example.com/{slug}.svg\ntags: [{}]\nactions:\n",
            self.slug,
            self.version,
            self.name,
            self.description,
            self.author,
            self.license,
            self.tags.join(", "),
            slug = self.slug,
        );
        for (name, description) in &self.actions {
            yaml.push_str(&format!(
                "  - name: {name}\n    description: {description}\n"
            ));
        }
        yaml
    }

    /// The manifest as JSON text.
    pub fn json(&self) -> String {
        self.manifest().to_string()
    }

    /// A ZIP bundle with the manifest as `plugin.yaml` at its root.
    pub fn bundle(&self) -> Vec<u8> {
        zip_of(&[("plugin.yaml", self.yaml().as_bytes())])
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A ZIP holding `files` (name, bytes), deflate-compressed.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(files, zip::CompressionMethod::Deflated)
}

/// A ZIP holding `files` stored uncompressed.
pub fn stored_zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(files, zip::CompressionMethod::Stored)
}

fn zip_with(files: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in files {
        writer
            .start_file(*name, options)
            .expect("start a ZIP entry");
        writer.write_all(bytes).expect("write a ZIP entry");
    }
    writer.finish().expect("finish the ZIP").into_inner()
}

/// Over the registry's HTTP API at `base`: creates the org `org` with the admin
/// key `key` and makes that key's principal a member allowed to write the org's
/// catalog, as an operator would before uploading.
pub async fn admin_joins_new_org(client: &reqwest::Client, base: &str, key: &str, org: &str) {
    let call = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(key)
    };
    let keys: Value = call(reqwest::Method::GET, "/auth/keys")
        .send()
        .await
        .expect("list keys")
        .json()
        .await
        .expect("key list");
    let me = keys["keys"][0]["principal"]
        .as_str()
        .expect("a key's principal")
        .to_owned();
    let created = call(reqwest::Method::POST, "/api/orgs")
        .header("content-type", "application/json")
        .body(json!({"id": org, "name": org}).to_string())
        .send()
        .await
        .expect("create the org");
    assert_eq!(created.status(), 201, "create org {org}");
    for path in [
        format!("/api/orgs/{org}/members/{me}"),
        format!("/api/principals/{me}/permissions/cadence:org:plugins:write"),
    ] {
        let status = call(reqwest::Method::PUT, &path)
            .send()
            .await
            .expect("PUT")
            .status();
        assert_eq!(status, 204, "PUT {path}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_say_the_same_thing() {
        let plugin = TestPlugin::new("weather", "1.0.0")
            .tags(&["forecast", "weather"])
            .action("get_forecast", "The forecast");
        let from_json: Value = serde_json::from_str(&plugin.json()).expect("json");
        assert_eq!(from_json, plugin.manifest());
        let yaml = plugin.yaml();
        assert!(
            yaml.starts_with("slug: weather\nversion: 1.0.0\n"),
            "{yaml}"
        );
        assert!(yaml.contains("tags: [forecast, weather]\n"), "{yaml}");
        assert!(yaml.ends_with("  - name: get_forecast\n    description: The forecast\n"));
    }
}
