//! Entry names that would land on the same file once unpacked.
//!
//! macOS and Windows filesystems ignore case, and macOS ignores Unicode
//! normalization, so `PLUGIN.JSON` beside `plugin.json`, `lib/A` beside `lib/a`, or
//! `é` composed beside `é` decomposed, unpack to one file there and two elsewhere.
//! And a name used both as a file and as a directory (`lib` and `lib/x`) cannot
//! unpack at all. Each name is folded to the key those filesystems compare.

use std::collections::HashMap;

use icu_normalizer::ComposingNormalizerBorrowed;

use super::BundleError;

/// Finds entries that collide once case and Unicode normalization are ignored.
#[derive(Default)]
pub(super) struct NameCollisions {
    /// Folded key of each path seen, with the name that claimed it.
    claimed: HashMap<String, Claim>,
}

struct Claim {
    /// The name as written (directories with their trailing `/`).
    name: String,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Directory,
    /// A directory only because some entry lies inside it.
    ImpliedDirectory,
}

impl NameCollisions {
    /// Records `name` (a directory when it ends in `/`), refusing it if another
    /// entry claimed its key or one of its parents' keys under another spelling, or
    /// claimed a parent as a file.
    pub(super) fn record(&mut self, name: &str) -> Result<(), BundleError> {
        let is_dir = name.ends_with('/');
        let path = name.trim_end_matches('/');
        let collision = |other: &Claim| BundleError::CollidingNames {
            name: name.to_owned(),
            other: other.name.clone(),
        };
        let written: Vec<&str> = path.split('/').collect();
        for depth in 1..written.len() {
            let parent = format!("{}/", written[..depth].join("/"));
            let key = fold(parent.trim_end_matches('/'));
            match self.claimed.get(&key) {
                Some(claim) if claim.kind == Kind::File || claim.name != parent => {
                    return Err(collision(claim));
                }
                Some(_) => {}
                None => {
                    self.claimed.insert(
                        key,
                        Claim {
                            name: parent,
                            kind: Kind::ImpliedDirectory,
                        },
                    );
                }
            }
        }
        let key = fold(path);
        match self.claimed.get_mut(&key) {
            None => {
                let kind = if is_dir { Kind::Directory } else { Kind::File };
                self.claimed.insert(
                    key,
                    Claim {
                        name: name.to_owned(),
                        kind,
                    },
                );
                Ok(())
            }
            Some(claim) if claim.kind == Kind::ImpliedDirectory && is_dir && claim.name == name => {
                claim.kind = Kind::Directory;
                Ok(())
            }
            Some(claim) if claim.name == name => Err(BundleError::DuplicateEntry {
                name: name.to_owned(),
            }),
            Some(claim) => Err(collision(claim)),
        }
    }
}

/// NFC, then lowercase: equal keys for names the lenient filesystems treat as one.
fn fold(path: &str) -> String {
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(path)
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_all(names: &[&str]) -> Result<(), BundleError> {
        let mut collisions = NameCollisions::default();
        names.iter().try_for_each(|name| collisions.record(name))
    }

    #[test]
    fn names_equal_but_for_case_or_normalization_collide() {
        for names in [
            &["plugin.json", "PLUGIN.JSON"][..],
            &["lib/a", "lib/A"],
            &["lib/a", "LIB/b"],
            &["caf\u{e9}.txt", "cafe\u{301}.txt"],
            &["lib", "lib/x"],
            &["lib/x", "lib"],
            &["LIB/x", "lib"],
        ] {
            assert!(
                matches!(record_all(names), Err(BundleError::CollidingNames { .. })),
                "{names:?}"
            );
        }
        assert!(matches!(
            record_all(&["a.txt", "a.txt"]),
            Err(BundleError::DuplicateEntry { .. })
        ));
    }

    #[test]
    fn distinct_names_and_directory_entries_pass() {
        assert!(
            record_all(&[
                "lib/",
                "lib/a",
                "lib/b/",
                "lib/b/c",
                "plugin.yaml",
                "README"
            ])
            .is_ok()
        );
        assert!(record_all(&["lib/a", "lib/"]).is_ok());
        assert!(matches!(
            record_all(&["lib/", "lib/"]),
            Err(BundleError::DuplicateEntry { .. })
        ));
    }
}
