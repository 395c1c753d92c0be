//! Which URLs from a manifest become links.

/// `raw` as a link target when it is an absolute `http`, `https` or `mailto` URL;
/// `None` for anything else (`javascript:`, `data:`, relative paths), which pages
/// then show as text.
pub fn safe_link(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Some(url.to_string()),
        "mailto" => Some(url.to_string()),
        _ => None,
    }
}

/// The link a support contact gives: a URL as [`safe_link`] takes it, or a bare
/// e-mail address as a `mailto:` link.
pub(crate) fn contact_link(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if !raw.contains(':') && raw.contains('@') && !raw.contains(char::is_whitespace) {
        return safe_link(&format!("mailto:{raw}"));
    }
    safe_link(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_and_mail_urls_become_links() {
        for (raw, link) in [
            ("https://github.com/a/b", Some("https://github.com/a/b")),
            ("http://example.com", Some("http://example.com/")),
            ("mailto:sec@example.com", Some("mailto:sec@example.com")),
            ("javascript:alert(1)", None),
            ("JavaScript:alert(1)", None),
            (" javascript:alert(1)", None),
            ("data:text/html,<script>alert(1)</script>", None),
            ("vbscript:msgbox", None),
            ("/relative/path", None),
            ("//evil.example/x", None),
            ("file:///etc/passwd", None),
        ] {
            assert_eq!(safe_link(raw).as_deref(), link, "{raw}");
        }
    }

    #[test]
    fn a_bare_address_is_a_mail_link() {
        assert_eq!(
            contact_link("help@example.com").as_deref(),
            Some("mailto:help@example.com")
        );
        assert_eq!(contact_link("javascript:x@y"), None);
    }
}
