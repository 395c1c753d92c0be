//! The stylesheet and the script: content-hashed names, so they are cached for
//! good and a page always loads the versions it was rendered with.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One static file the pages load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// File name, with the content hash in it (`site.0123456789ab.css`).
    pub name: String,
    /// Media type.
    pub content_type: &'static str,
    /// The bytes.
    pub bytes: &'static [u8],
}

impl Asset {
    fn hashed(
        stem: &str,
        extension: &str,
        content_type: &'static str,
        bytes: &'static [u8],
    ) -> Self {
        let digest = hex::encode(Sha256::digest(bytes));
        Self {
            name: format!("{stem}.{}.{extension}", &digest[..12]),
            content_type,
            bytes,
        }
    }

    /// The object key under which the index holds it (`index/assets/…`).
    pub fn key(&self) -> String {
        format!("index/assets/{}", self.name)
    }
}

/// The stylesheet and the script, in that order.
pub fn site_assets() -> [&'static Asset; 2] {
    static ASSETS: OnceLock<[Asset; 2]> = OnceLock::new();
    let [stylesheet, script] = ASSETS.get_or_init(|| {
        [
            Asset::hashed(
                "site",
                "css",
                "text/css; charset=utf-8",
                include_bytes!("../assets/site.css"),
            ),
            Asset::hashed(
                "site",
                "js",
                "text/javascript; charset=utf-8",
                include_bytes!("../assets/site.js"),
            ),
        ]
    });
    [stylesheet, script]
}

/// What the pages are rendered by: the templates, the stylesheet, the script and
/// the code that fills the templates in. An index whose pages were rendered by
/// other code is rebuilt.
const RENDERING_SOURCES: &[&str] = &[
    include_str!("../templates/base.html"),
    include_str!("../templates/plugin.html"),
    include_str!("../templates/home.html"),
    include_str!("../templates/problem.html"),
    include_str!("../templates/search.html"),
    include_str!("../assets/site.css"),
    include_str!("../assets/site.js"),
    include_str!("plugin.rs"),
    include_str!("home.rs"),
    include_str!("problem.rs"),
    include_str!("search.rs"),
    include_str!("site.rs"),
    include_str!("link.rs"),
    include_str!("markdown.rs"),
    include_str!("chart.rs"),
];

/// SHA-256 (hex) of everything that renders the pages: equal fingerprints, equal
/// pages for equal data.
pub fn fingerprint() -> &'static str {
    static FINGERPRINT: OnceLock<String> = OnceLock::new();
    FINGERPRINT.get_or_init(|| {
        let mut hasher = Sha256::new();
        for source in RENDERING_SOURCES {
            hasher.update((source.len() as u64).to_be_bytes());
            hasher.update(source.as_bytes());
        }
        hex::encode(hasher.finalize())
    })
}
