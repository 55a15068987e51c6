"""Product descriptions: merchant HTML reduced to an allow-list with nh3 (bleach is deprecated).

Kept: paragraphs, headings h2–h4, emphasis, lists, quotes, simple tables, images (``src``,
``alt``, ``width``, ``height``) and links (``href``, ``title``; every link gets
``rel="noopener noreferrer"``). URLs must be http, https or relative. Everything else goes:
``<script>``/``<style>``/``<iframe>`` with their content, event handlers (``onerror=``…),
``style`` and ``class`` attributes, ``javascript:``/``data:`` URLs, comments.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3

TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "blockquote",
    "img",
    "a",
    "span",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "caption",
    "hr",
}
ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "a": {"href", "title"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
#: removed with everything inside them (the default allow-list would keep their text)
DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "noscript",
    "template",
    "svg",
    "math",
    "textarea",
    "select",
    "title",
}
URL_SCHEMES = {"http", "https"}
MAX_INPUT = 200_000  # characters of merchant HTML accepted before cleaning
_NUMBER = re.compile(r"^\d{1,4}$")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute in ("width", "height", "colspan", "rowspan"):
        return value if _NUMBER.match(value.strip()) else None
    if attribute in ("href", "src"):
        stripped = value.strip()
        # nh3 checks the scheme; refuse what browsers would still read as one ("java\tscript:")
        if re.match(r"^[^/?#]*:", re.sub(r"[\x00-\x20]", "", stripped)) and not re.match(
            r"^https?:", stripped, re.IGNORECASE
        ):
            return None
        return stripped
    return value


def sanitise(markup: str | None) -> str:
    """The allow-listed form of ``markup`` (safe to render as is)."""
    if not markup:
        return ""
    return nh3.clean(
        markup[:MAX_INPUT],
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes=URL_SCHEMES,
        strip_comments=True,
        link_rel="noopener noreferrer",
    ).strip()


@lru_cache(maxsize=256)
def _kept(markup: str) -> str:
    return sanitise(markup)


def sanitise_kept(markup: str | None) -> str:
    """:func:`sanitise`, remembered per process for the last 256 different texts: a page shows
    the same rich text on every render, and the allow-list does not change while the process
    runs (the text itself is the key: an edit is a different text)."""
    if not markup:
        return ""
    return _kept(markup)


def text_of(markup: str | None) -> str:
    """The plain text of (already sanitised or not) HTML: for search and summaries."""
    if not markup:
        return ""
    blocks = re.sub(r"<(br|/p|/li|/h[2-4]|/td|/th|/blockquote)\b[^>]*>", " ", markup, flags=re.IGNORECASE)
    plain = nh3.clean(blocks, tags=set(), clean_content_tags=DROP_WITH_CONTENT, attributes={})
    return re.sub(r"\s+", " ", html.unescape(plain)).strip()
