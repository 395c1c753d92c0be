//! The index path parser, which reads the path of every request for an index file.
//!
//! Promise: a path is parsed only when it is exactly the path of what it parsed to,
//! so two different request paths never name the same file and no parsed path
//! leads outside the index.

use registry_index::IndexPath;

/// A path relative to the index root.
pub(crate) fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(path) = IndexPath::parse(text) else {
        return;
    };
    let relative = path.relative();
    assert_eq!(
        relative, text,
        "{text:?} parsed to {path:?}, whose path differs"
    );
    assert!(
        relative
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".."),
        "a parsed path has an empty, '.' or '..' component: {relative:?}"
    );
    assert_eq!(IndexPath::parse(&relative), Some(path));
}
