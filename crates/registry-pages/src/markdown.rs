//! Changelogs: Markdown from a stranger, rendered and then sanitized.

use std::collections::HashSet;
use std::sync::OnceLock;

/// `markdown` as HTML safe to place in a page: rendered by `pulldown-cmark`, then
/// cleaned by `ammonia`, which keeps formatting and drops scripts, event handlers,
/// styles and forms. Links keep only `http(s)` and `mailto` targets and get
/// `rel="nofollow ugc noopener"`; images are dropped, since a page loads nothing
/// from an author's host.
pub fn render_markdown(markdown: &str) -> String {
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    let options = pulldown_cmark::Options::ENABLE_TABLES
        | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
        | pulldown_cmark::Options::ENABLE_TASKLISTS;
    pulldown_cmark::html::push_html(
        &mut html,
        pulldown_cmark::Parser::new_ext(markdown, options),
    );
    sanitizer().clean(&html).to_string()
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .rm_tags(["img"])
            .url_schemes(HashSet::from(["http", "https", "mailto"]))
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("nofollow ugc noopener"))
            // Ids from a changelog must not collide with the page's own.
            .id_prefix(Some("changelog-"));
        builder
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_survives() {
        let html = render_markdown(
            "## 1.2.0\n\n- **Fixed** a `bug`\n- [docs](https://example.com/docs)\n",
        );
        assert!(html.contains("<h2>1.2.0</h2>"), "{html}");
        assert!(html.contains("<strong>Fixed</strong>"), "{html}");
        assert!(html.contains("<code>bug</code>"), "{html}");
        assert!(
            html.contains(
                r#"<a href="https://example.com/docs" rel="nofollow ugc noopener">docs</a>"#
            ),
            "{html}"
        );
    }

    #[test]
    fn scripts_handlers_and_dangerous_links_are_removed() {
        let html = render_markdown(concat!(
            "<script>alert(1)</script>\n\n",
            "<img src=x onerror=alert(2)>\n\n",
            "<a href=\"javascript:alert(3)\" onclick=\"alert(4)\">click</a>\n\n",
            "[md](javascript:alert(5)) [rel](/admin) ![pic](https://tracker.example/p.gif)\n\n",
            "<iframe src=\"https://evil.example\"></iframe><style>body{display:none}</style>\n\n",
            "<form action=\"https://evil.example\"><input name=x></form>",
        ));
        for needle in [
            "<script",
            "alert(1)",
            "<img",
            "onerror",
            "javascript:",
            "onclick",
            "/admin",
            "tracker.example",
            "<iframe",
            "<style",
            "<form",
            "<input",
        ] {
            assert!(!html.contains(needle), "{needle} in {html}");
        }
        assert!(html.contains("click"), "{html}");
    }
}
