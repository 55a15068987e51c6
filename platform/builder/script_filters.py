"""What a page setting must refuse as script, by the kind of setting (see docs/builder.md).

Every refusal names a code: ``script`` (a ``<script`` tag), ``event_handler`` (an ``on…=``
attribute), ``bad_url`` (a ``javascript:`` / ``vbscript:`` / ``livescript:`` URL or a
``data:`` URL), ``embedded`` (rich text only: ``<iframe>``, ``<object>``…).

* **Plain text** is escaped wherever it is shown, so only text that *looks like* script is
  refused: a ``<script`` tag, an ``on…=`` attribute inside a tag (``<img src=x onerror=…``) or
  right after a quote that would close an attribute (``x" onmouseover=…``), a script URL, a
  ``data:`` URL (``data:`` then a media type, ``;`` or ``,``). Prose such as ``online=yes``,
  ``onion=3`` or ``Big data: …`` is text, not markup. Each test also runs on the text with HTML
  entities decoded (``&lt;script``, ``&#106;avascript:``) and with control and zero-width
  characters removed (browsers drop tabs and newlines inside URLs: ``java\\tscript:``).
* **Links and video addresses** get the plain-text checks, then their scheme allow-list
  (:func:`mallow.builder.validation.link_problem`).
* **Rich text** is read as HTML (tags, attributes, text) and refused for what the sanitiser
  (:func:`mallow.catalog.richtext.sanitise`, nh3) would have to strip because it runs or embeds
  something: ``<script>``, elements that embed other documents, any ``on…`` attribute, a script
  URL in any attribute, a ``data:`` URL in a URL attribute; its text gets the plain-text checks
  (an escaped ``&lt;script&gt;`` is still refused). The rest of what nh3 removes (``style``,
  ``class``, tags outside the allow-list) is removed silently. The refusal tells the merchant;
  nh3, run on every save and every render, is what keeps the page safe.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_SCRIPT_TAG = re.compile(r"<\s*/?\s*script", re.IGNORECASE)
#: ``on…=`` inside a tag (after a space, ``/`` or quote) or after a quote and a space or ``/``
_MARKUP_HANDLER = re.compile(r"<[a-z][^>]*?[\s/\"'`]on[a-z]+\s*=|[\"'`][\s/]+on[a-z]+\s*=", re.IGNORECASE)
_SCRIPT_URL = re.compile(r"(?:java|vb|live)script:", re.IGNORECASE)
_DATA_URL = re.compile(r"\bdata:\s*(?:[a-z]+/[a-z0-9.+-]+|[;,])", re.IGNORECASE)
#: dropped by browsers inside URLs (tabs, newlines), or invisible: never part of a real word
_HIDDEN = re.compile(r"[\x00-\x1f\x7f\u00ad\u200b-\u200d\u2060\ufeff]+")
_URL_START = re.compile(r"^[\x00-\x20]*(?:(?:java|vb|live)script|data):", re.IGNORECASE)
#: elements that load or run another document: nh3 drops them with their content
EMBEDDING = frozenset({"iframe", "frame", "frameset", "object", "embed", "applet", "portal", "base", "meta", "link"})
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "srcset",
        "action",
        "formaction",
        "poster",
        "background",
        "cite",
        "data",
        "xlink:href",
        "lowsrc",
        "dynsrc",
        "ping",
    }
)


def _readings(value: str) -> list[str]:
    """The text as written, entity-decoded, and both without hidden characters."""
    decoded = html.unescape(value)
    return list(dict.fromkeys((value, decoded, _HIDDEN.sub("", value), _HIDDEN.sub("", decoded))))


def unsafe_text(value: str) -> str | None:
    """The code when plain text looks like script, else None."""
    readings = _readings(value)
    if any(_SCRIPT_TAG.search(r) for r in readings):
        return "script"
    if any(_MARKUP_HANDLER.search(r) for r in readings):
        return "event_handler"
    if any(_SCRIPT_URL.search(r) or _DATA_URL.search(r) for r in readings):
        return "bad_url"
    return None


def _url_attribute_problem(value: str) -> str | None:
    return "bad_url" if _URL_START.match(_HIDDEN.sub("", value)) else None


class _RichTextReader(HTMLParser):
    """Finds the first thing in rich text that would run or embed something."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None
        self._text: list[str] = []

    def _found(self, code: str | None) -> None:
        if code and self.problem is None:
            self.problem = code

    def _check_text(self) -> None:
        if self._text:
            self._found(unsafe_text("".join(self._text)))
            self._text = []

    def handle_starttag(self, tag, attrs):
        self._check_text()
        if tag == "script":
            self._found("script")
        elif tag in EMBEDDING:
            self._found("embedded")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self._found("event_handler")
            self._found(unsafe_text(value))
            if name in URL_ATTRIBUTES:
                self._found(_url_attribute_problem(value))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self._check_text()

    def handle_data(self, data):
        self._text.append(data)

    def close(self):
        super().close()
        self._check_text()


def rich_text_problem(markup: str) -> str | None:
    """The code when rich text carries something the sanitiser would strip as active, else None."""
    if any(_SCRIPT_TAG.search(r) for r in (markup, _HIDDEN.sub("", markup))):
        return "script"  # however the parser reads the rest
    reader = _RichTextReader()
    reader.feed(markup)
    reader.close()
    return reader.problem
