//! `PluginVersion`: a strict semantic version, and the ordering rules built on it.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest version string accepted.
pub const MAX_VERSION_LEN: usize = 64;

/// A plugin version: strict SemVer 2.0.0 (`MAJOR.MINOR.PATCH[-PRERELEASE]`).
///
/// Build metadata (`+build`) is refused: SemVer ignores it for precedence, so
/// `1.0.0+a` and `1.0.0+b` would be one version under two names, and a registry
/// must never hold two documents for one version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PluginVersion(semver::Version);

impl PluginVersion {
    /// Parses `raw` as a strict semantic version and says what is wrong when it fails.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > MAX_VERSION_LEN {
            return Err(format!("must be at most {MAX_VERSION_LEN} characters"));
        }
        let version = semver::Version::parse(raw)
            .map_err(|e| format!("must be a semantic version like 1.2.0 ({e})"))?;
        if !version.build.is_empty() {
            return Err("must not carry build metadata ('+...')".to_owned());
        }
        Ok(Self(version))
    }

    /// Whether this is a pre-release (`1.0.0-beta.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    /// The underlying semver value.
    pub fn semver(&self) -> &semver::Version {
        &self.0
    }

    /// A string whose byte order equals semver precedence, for sort keys in stores
    /// that only order strings (DynamoDB sort keys, SQLite text columns).
    ///
    /// Numbers are zero-padded to 20 digits; a release sorts after all of its
    /// pre-releases (`~` sorts after `-`); numeric pre-release identifiers sort before
    /// alphanumeric ones, as SemVer says; identifiers are joined by `#` and closed by
    /// `!`, both below every character an identifier may hold, so a shorter list and a
    /// shorter identifier sort first.
    pub fn sort_key(&self) -> String {
        let v = &self.0;
        let mut key = format!("{:020}.{:020}.{:020}", v.major, v.minor, v.patch);
        if v.pre.is_empty() {
            key.push('~');
        } else {
            key.push('-');
            for (i, ident) in v.pre.as_str().split('.').enumerate() {
                if i > 0 {
                    // Below '-', the lowest identifier character, and above the '!' end mark.
                    key.push('#');
                }
                match ident.parse::<u64>() {
                    Ok(n) if !ident.is_empty() => key.push_str(&format!("0{n:020}")),
                    _ => {
                        key.push('1');
                        key.push_str(ident);
                    }
                }
            }
            // A shorter identifier list sorts first when all shared ones are equal.
            key.push('!');
        }
        key
    }
}

impl Ord for PluginVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl PartialOrd for PluginVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<String> for PluginVersion {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PluginVersion> for String {
    fn from(value: PluginVersion) -> Self {
        value.0.to_string()
    }
}

impl fmt::Display for PluginVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> PluginVersion {
        PluginVersion::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn refuses_loose_versions() {
        for bad in ["1.0", "v1.0.0", "01.0.0", "1.0.0+build.1", "1.0.0-", ""] {
            assert!(PluginVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_the_semver_spec_example() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-alpha.x",
            "1.0.0-alpha-x",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(
                v(pair[0]).sort_key() < v(pair[1]).sort_key(),
                "sort key {} < {}",
                pair[0],
                pair[1]
            );
        }
    }
}
