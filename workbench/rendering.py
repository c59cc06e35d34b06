"""Card text as an EHR shows it: CommonMark rendered without raw HTML, then sanitised.

Card `detail` is GitHub-flavoured Markdown (CDS Hooks 2.0 Card attributes); a service must not be
able to put script or markup of its own into the EHR's page, so raw HTML is not rendered and the
result passes nh3 (the ammonia sanitiser) with links limited to http(s) and opened safely.
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {"p", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "br", "hr",
         "h1", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td"}


def markdown(text: object) -> Markup:
    html = _markdown.render(text if isinstance(text, str) else "")
    return Markup(nh3.clean(html, tags=_TAGS, attributes={"a": {"href", "title"}},
                            url_schemes={"http", "https"}, link_rel="noopener noreferrer"))


def safe_url(url: object) -> str | None:
    """A link target the page may show: http(s) only."""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
