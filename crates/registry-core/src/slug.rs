//! `Slug`: the unique, URL-safe identifier of a plugin.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Slugs that would collide with the registry's own routes or index paths.
pub const RESERVED_SLUGS: &[&str] = &[
    "search",
    "api",
    "auth",
    "register",
    "uploads",
    "index",
    "openapi.json",
    "healthz",
    "readyz",
];

/// Longest slug accepted.
pub const MAX_SLUG_LEN: usize = 64;

/// A plugin identifier.
///
/// Rules: 2 to 64 characters; lowercase ASCII letters, digits and `-`; starts and ends
/// with a letter or digit; no `--`. Reserved route names are refused by the publish
/// service, not here, so existing data with such names can still be read back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    /// Checks `raw` against the slug rules and says what is wrong when it fails.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(2..=MAX_SLUG_LEN).contains(&len) {
            return Err(format!(
                "must be 2 to {MAX_SLUG_LEN} characters long (got {len})"
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "may contain only lowercase letters, digits and '-' (found {bad:?})"
            ));
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err("must start and end with a letter or digit".to_owned());
        }
        if raw.contains("--") {
            return Err("must not contain '--'".to_owned());
        }
        Ok(Self(raw.to_owned()))
    }

    /// Whether this slug names a registry route and so cannot be published.
    pub fn is_reserved(&self) -> bool {
        RESERVED_SLUGS.contains(&self.0.as_str())
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug as a reader might misread it: without `-`, with digits that
    /// look like letters as those letters (`0` as `o`, `1` and `i` as `l`, `5` as
    /// `s`), and letter pairs that look like one letter as that letter (`rn` as
    /// `m`, `vv` as `w`). Two slugs with one skeleton are confusable, and only the
    /// first to be published may have it. (Case and `_` cannot differ: slugs are
    /// lowercase, with `-` alone.) SQLite migration 8 computes the same with
    /// `replace`, in the same order.
    pub fn skeleton(&self) -> String {
        let mapped: String = self
            .0
            .chars()
            .filter(|c| *c != '-')
            .map(|c| match c {
                '0' => 'o',
                '1' | 'i' => 'l',
                '5' => 's',
                other => other,
            })
            .collect();
        mapped.replace("rn", "m").replace("vv", "w")
    }

    /// The reserved name this slug reads like, when it is not that name itself.
    pub fn looks_reserved(&self) -> Option<&'static str> {
        let skeleton = self.skeleton();
        RESERVED_SLUGS
            .iter()
            .copied()
            .filter(|reserved| *reserved != self.0)
            .find(|reserved| Self(reserved.to_string()).skeleton() == skeleton)
    }
}

impl TryFrom<String> for Slug {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_slugs() {
        for ok in ["github", "my-plugin", "a1", "s3-sync-v2"] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_each_broken_rule_with_a_reason() {
        for (bad, why) in [
            ("a", "2 to 64"),
            ("GitHub", "lowercase"),
            ("-github", "start and end"),
            ("github-", "start and end"),
            ("git--hub", "'--'"),
            ("git_hub", "lowercase"),
            (&"a".repeat(65), "2 to 64"),
        ] {
            let err = Slug::parse(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn knows_reserved_names() {
        assert!(
            Slug::parse("search")
                .map(|s| s.is_reserved())
                .unwrap_or(false)
        );
        assert!(
            !Slug::parse("github")
                .map(|s| s.is_reserved())
                .unwrap_or(true)
        );
    }

    #[test]
    fn confusable_slugs_share_a_skeleton_and_others_do_not() {
        let skeleton = |raw: &str| Slug::parse(raw).map(|s| s.skeleton()).unwrap_or_default();
        for (a, b) in [
            ("my-plugin", "myplugin"),
            ("g00gle", "google"),
            ("github", "g1thub"),
            ("cli-tools", "c1i-too1s"),
            ("s3-sync", "53-sync"),
            ("modern", "rnodern"),
            ("vvasm", "wasm"),
        ] {
            assert_eq!(skeleton(a), skeleton(b), "{a} ~ {b}");
        }
        for (a, b) in [("github", "gitlab"), ("weather", "weathers"), ("ab", "ba")] {
            assert_ne!(skeleton(a), skeleton(b), "{a} !~ {b}");
        }
        let looks = |raw: &str| Slug::parse(raw).ok().and_then(|s| s.looks_reserved());
        assert_eq!(looks("1ndex"), Some("index"));
        assert_eq!(looks("a-p-i"), Some("api"));
        assert_eq!(
            looks("index"),
            None,
            "the name itself is refused as reserved, elsewhere"
        );
        assert_eq!(looks("weather"), None);
    }
}
