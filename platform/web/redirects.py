"""The one check for redirecting to a target that came with the request (``next``, ``back``, a
session value): :func:`safe_target` lets through only a path on this site, everything else
becomes the caller's default. No open redirects, and no 500 on a target that cannot be a header.

Browsers are generous with ``Location``: they drop tabs and newlines anywhere, strip leading
spaces and control characters, read ``\\`` as ``/`` and ``//host`` as another site; proxies and
frameworks further along may percent-decode what we let through. So the target is judged in
every form it can take:

* raw: no ASCII control character, no whitespace (any Unicode space, e.g. U+3000), no
  backslash, nothing that NFKC-folds to ``/`` or ``\\`` (full-width solidus and friends);
* it must be an absolute path: ``/`` then not ``/`` — never ``//host``, ``/\\host``, a scheme
  (``https:``, ``javascript:``) or a network location, as :func:`urllib.parse.urlsplit` reads it;
* its path, percent-decoded again and again until it stops changing (``/%2F%2Fevil``,
  ``/%252F%252Fevil``, ``/%0d%0aSet-Cookie:…``), must pass the same checks each time.

The query string and fragment are not decoded: they cannot move the browser to another host,
and a search for ``a%20b`` stays a fine target.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

#: longer targets are refused outright (a login ``next`` is a path, not a document)
MAX_TARGET = 2048
#: more nested percent-encodings than this is not a path anybody means
_MAX_DECODES = 4


def safe_target(value, default: str) -> str:
    """``value`` when it is a path on this site (returned unchanged), else ``default``."""
    if not isinstance(value, str) or not value or len(value) > MAX_TARGET:
        return default
    if not _plain(value) or not _same_site(value):
        return default
    path = value.split("?", 1)[0].split("#", 1)[0]
    for _round in range(_MAX_DECODES + 1):
        try:
            decoded = unquote(path, errors="strict")
        except UnicodeDecodeError:
            return default  # escapes that are not UTF-8: not a path we ever link to
        if decoded == path:
            return value
        if not _plain(decoded) or not _same_site(decoded):
            return default
        path = decoded
    return default


def safe_next(default: str, field: str = "next") -> str:
    """The request's ``next`` (query string or form) when it is safe, else ``default``."""
    from flask import request

    return safe_target(request.values.get(field), default)


def _plain(text: str) -> bool:
    for char in text:
        if char == "\\" or char.isspace() or unicodedata.category(char)[0] in "CZ":
            return False  # controls, format characters (U+200B…), separators, backslashes
        if not char.isascii() and any(c in "/\\" for c in unicodedata.normalize("NFKC", char)):
            return False  # full-width solidus, and the like, that some parser may fold to "/"
    return True


def _same_site(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc


def here() -> str:
    """Where a link that leaves this page (the language switch) should bring the visitor back:
    this page for a GET, else the page the form was on (the Referer, when it is this site's),
    never a POST-only address that would answer 405."""
    from flask import request

    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host:
        return safe_target(referrer.path + (f"?{referrer.query}" if referrer.query else ""), "/")
    return "/"
