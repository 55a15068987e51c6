"""Whole anonymous storefront pages and public catalogue API answers, kept in memory and on this
host's disk, served again without the app.

A view opts in with :func:`cacheable` (home, product, category, search, the category index, the
store's card, landing pages; the store API's product list, product and category tree). After
such a view answered 200 with HTML or JSON to an **anonymous** request, :func:`keep` stores the
body under the page's key, with the store's stamp read for the request
(:mod:`mallow.tenants.stamps`). The front door (:mod:`mallow.edge.door`) serves it to the next
anonymous request with the same key while the stamp holds and the entry has not expired, with
``X-Mallow-Cache: hit``. Anything but a 200 (a bad query's 400, a 404, a closed store's 503) is
never kept: such a request always reaches its view.

* **anonymous**: no bearer token; no cookie of ours that says who the visitor is or what they
  hold: the guest cart cookie, or a session holding anything but its CSRF token (a signed-in
  shopper, flashed messages, a pending WeChat sign-in, a plugin's referral…). Anything else a
  page shows is the same for every such visitor.
* **key**: store, host, scheme, path, the query string with its parameters sorted by name
  (repeated ones keep their order: a view reads the first), the language the visitor gets
  (``?lang=`` requests are not kept: they set a cookie), and whether the browser is WeChat's.
* **the one personal part**: a form's CSRF token. The stored body holds a marker instead, and the
  door puts the visitor's own token there (:func:`mallow.edge.door`), so a page served from memory
  can still add to the cart without script.
* **how long**: ``MALLOW_EDGE_CACHE_SECONDS`` (default 60: stock figures on a product page are
  the one thing that moves without a stamp), shortened by whatever the page said with
  :func:`fresh_for` (a flash sale that starts in 20 s); ``MALLOW_EDGE_CACHE_ENTRIES`` (default
  20,000: a page for each of 10,000 stores and then some) pages per process and
  ``MALLOW_EDGE_CACHE_BYTES`` (default 128 MiB) of them, least recently used first out (the rest
  are read back from their files); 0 turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from urllib.parse import parse_qsl, urlencode

from flask import current_app, g, request, session
from werkzeug.http import parse_cookie

from mallow.extensions import choose_locale
from mallow.observability.metrics import cache_counters

_counted_hit, _counted_miss = cache_counters("edge_page")  # mallow_cache_lookups_total{cache="edge_page"}

log = logging.getLogger("mallow.edge")

EXTENSION = "mallow.edge_pages"
PERSONAL_COOKIES = "mallow.edge_personal_cookies"
CSRF_MARKER = "\x00mallow-csrf\x00"
SESSIONS = "mallow.edge_sessions"
LOCALES = "mallow.edge_locales"
#: what an anonymous visitor's session may hold: its CSRF token (and Flask and Flask-Login bookkeeping)
ANONYMOUS_SESSION_KEYS = frozenset({"csrf_token", "_permanent", "_fresh"})
#: the kinds of answer kept (a view marked cacheable answering anything else is not kept)
KEPT_MIMETYPES = frozenset({"text/html", "application/json"})
#: decoded session cookies remembered by their raw value, and locales by what they are chosen from
SESSION_ENTRIES = 1024
LOCALE_ENTRIES = 512
_ATTRIBUTE = "_mallow_edge_cacheable"
_NO_COOKIES: dict = {}


def cacheable(view: Callable) -> Callable:
    """Mark a storefront view (or a public store API read) whose answer is the same for every
    anonymous visitor (apply it under the route decorator)."""
    setattr(view, _ATTRIBUTE, True)
    return view


def fresh_for(seconds: float) -> None:
    """The page being rendered is true for at most ``seconds`` more (a countdown's next phase)."""
    current = g.get("mallow_fresh_seconds")
    g.mallow_fresh_seconds = seconds if current is None else min(current, seconds)


@dataclass
class Page:
    stamp: object
    expires: float
    body: bytes
    headers: list[tuple[str, str]]
    has_csrf: bool
    #: the headers of a hit, made once: ``headers``, ``Vary: Cookie`` (the door chose this
    #: answer by the request's cookies, as the app said on the miss), ``X-Mallow-Cache: hit``
    #: and, for a body served as it is, its length
    served: list[tuple[str, str]] = field(init=False, repr=False)

    def __post_init__(self):
        self.served = list(self.headers)
        if not any(name.lower() == "vary" and "cookie" in value.lower() for name, value in self.headers):
            self.served.append(("Vary", "Cookie"))
        self.served.append(("X-Mallow-Cache", "hit"))
        if not self.has_csrf:
            self.served.append(("Content-Length", str(len(self.body))))


class PageMemory:
    """Kept pages: this process's most recently used ones, and beneath them the pages of every
    process of this host as files (``<data dir>/pages/<store id>/``), so four workers render a
    page once, not four times, and a host serving 10,000 stores keeps all their pages. Only
    paths without a query string go to files (their number is bounded by the stores' content;
    query strings are not)."""

    def __init__(self, max_entries: int, seconds: float, folder: Path | None = None, max_bytes: int = 128 << 20):
        self.max_entries, self.seconds, self.folder, self.max_bytes = max_entries, seconds, folder, max_bytes
        self._prefix = os.path.join(str(folder), "") if folder is not None else None
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.seconds > 0

    def get(self, key: tuple, stamp) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None and (page.stamp != stamp or page.expires < time.time()):
                del self._pages[key]
                self._bytes -= _cost(page)
                page = None
            if page is not None:
                self._pages.move_to_end(key)
        if page is None:
            page = self._read(key, stamp)
            if page is not None:
                self._remember(key, page)
        if page is None:
            self.misses += 1
            _counted_miss()
        else:
            self.hits += 1
            _counted_hit()
        return page

    def put(self, key: tuple, page: Page) -> None:
        self._remember(key, page)
        self._write(key, page)

    def _remember(self, key: tuple, page: Page) -> None:
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= _cost(old)
            self._pages[key] = page
            self._bytes += _cost(page)
            while self._pages and (len(self._pages) > self.max_entries or self._bytes > self.max_bytes):
                self._bytes -= _cost(self._pages.popitem(last=False)[1])

    def _file(self, key: tuple) -> str | None:
        """The page's file as a plain string (read on every miss of the memory: no ``pathlib``)."""
        if self._prefix is None or key[4]:  # key[4]: the query string
            return None
        return f"{self._prefix}{int(key[0])}{os.sep}{hashlib.sha1(repr(key[1:]).encode()).hexdigest()}"

    def _read(self, key: tuple, stamp) -> Page | None:
        path = self._file(key)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                meta, body = f.read().split(b"\n", 1)
            kept = json.loads(meta)
        except (OSError, ValueError):
            return None
        if tuple(kept["stamp"]) != stamp or kept["expires"] < time.time() or kept["key"] != repr(key):
            return None
        return Page(stamp, kept["expires"], body, [tuple(h) for h in kept["headers"]], kept["has_csrf"])

    def _write(self, key: tuple, page: Page) -> None:
        path = self._file(key)
        if path is None or not isinstance(page.stamp, tuple):
            return
        meta = {
            "key": repr(key),
            "stamp": list(page.stamp),
            "expires": page.expires,
            "headers": page.headers,
            "has_csrf": page.has_csrf,
        }
        try:
            folder, name = os.path.split(path)
            os.makedirs(folder, exist_ok=True)
            temporary = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}")
            with open(temporary, "wb") as f:
                f.write(json.dumps(meta).encode() + b"\n" + page.body)
            os.replace(temporary, path)
        except OSError as error:
            log.warning("page not kept on disk: %s", error)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._pages)


#: what a kept page costs beside its body (measured: ~1.9 KB for a home's key, headers and Page)
PAGE_OVERHEAD = 2048


def _cost(page: Page) -> int:
    return len(page.body) + PAGE_OVERHEAD


def memory(app=None) -> PageMemory:
    return (app or current_app).extensions[EXTENSION]


# --- who is anonymous, and the key of a page ----------------------------------------------------


class SessionMemory:
    """Session cookies already read, by their raw value: ``(anonymous session or None, until)``.
    A visitor's cookie does not change from page to page, so the door verifies its signature
    once, not per hit; an entry is good until the cookie's own age limit (``until``)."""

    def __init__(self, max_entries: int = SESSION_ENTRIES):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[dict | None, float]] = OrderedDict()
        self._lock = Lock()

    def get(self, raw: str) -> tuple[dict | None, float] | None:
        with self._lock:
            found = self._entries.get(raw)
            if found is not None:
                self._entries.move_to_end(raw)
            return found

    def put(self, raw: str, session: dict | None, until: float) -> None:
        with self._lock:
            self._entries[raw] = (session, until)
            self._entries.move_to_end(raw)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def cookies_of(environ: dict) -> dict:
    """The request's cookies (an empty dict, not to be changed, when it sends none)."""
    header = environ.get("HTTP_COOKIE")
    return parse_cookie(header) if header else _NO_COOKIES


def anonymous_session(app, cookies: dict) -> dict | None:
    """The session of an anonymous visitor (``{}`` when there is none), or None when the
    request carries anything personal (see the module's docstring). The dict answered is shared
    (:class:`SessionMemory`): read it, copy it, never change it."""
    prefixes = app.extensions[PERSONAL_COOKIES]
    if any(name.startswith(prefixes) for name in cookies):
        return None
    raw = cookies.get(app.config.get("SESSION_COOKIE_NAME", "session"))
    if not raw:
        return {}
    sessions: SessionMemory = app.extensions[SESSIONS]
    now = time.time()
    found = sessions.get(raw)
    if found is not None and now <= found[1]:
        return found[0]
    max_age = int(app.permanent_session_lifetime.total_seconds())
    serializer = app.session_interface.get_signing_serializer(app)
    try:
        data, signed = serializer.loads(raw, max_age=max_age, return_timestamp=True)
    except Exception:
        # a session we cannot read (a bad signature, too old): the app deals with it, every time
        sessions.put(raw, None, float("inf"))
        return None
    anonymous = data if isinstance(data, dict) and set(data) <= ANONYMOUS_SESSION_KEYS else None
    sessions.put(raw, anonymous, signed.timestamp() + max_age)
    return anonymous


def visitor_locale(app, lang_cookie: str | None, accept_language: str | None) -> str:
    """The language of a request without ``?lang=`` (:func:`mallow.extensions.choose_locale`),
    remembered by what it is chosen from."""
    locales: dict = app.extensions[LOCALES]
    asked = (lang_cookie, accept_language)
    locale = locales.get(asked)
    if locale is None:
        config = app.config
        locale = choose_locale(
            config["MALLOW_LOCALES"], config["BABEL_DEFAULT_LOCALE"], None, lang_cookie, accept_language
        )
        if len(locales) >= LOCALE_ENTRIES:
            locales.clear()
        locales[asked] = locale
    return locale


def _first_of(pair: tuple[str, str]) -> str:
    return pair[0]


def request_key(app, environ: dict, store_id: int, cookies: dict | None = None) -> tuple | None:
    """The key of this request's page, or None when it may not be served from memory
    (``cookies``: the request's, when the caller has them already)."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get("HTTP_AUTHORIZATION"):
        return None
    query = environ.get("QUERY_STRING", "")
    if query:
        args = parse_qsl(query, keep_blank_values=True)
        if any(name == "lang" for name, _value in args):
            return None
        # by name only: the order of a repeated name's values is kept (the view reads the first)
        query = urlencode(sorted(args, key=_first_of))
    if cookies is None:
        cookies = cookies_of(environ)
    return (
        store_id,
        environ.get("HTTP_HOST", ""),
        environ.get("wsgi.url_scheme", "http"),
        environ.get("PATH_INFO", ""),
        query,
        visitor_locale(app, cookies.get("lang"), environ.get("HTTP_ACCEPT_LANGUAGE")),
        "MicroMessenger" in environ.get("HTTP_USER_AGENT", ""),
    )


# --- keeping a page (after the view) ------------------------------------------------------------


def keep(response):
    """``after_request``: keep the page of a cacheable view answered to an anonymous request."""
    pages = memory()
    if not pages.enabled or request.method != "GET" or response.status_code != 200:
        return response
    view = current_app.view_functions.get(request.endpoint or "")
    stamp, store_id = g.get("mallow_store_stamp"), g.get("mallow_store_id")
    if view is None or not getattr(view, _ATTRIBUTE, False) or stamp is None or store_id is None:
        return response
    if response.mimetype not in KEPT_MIMETYPES or response.direct_passthrough or response.headers.getlist("Set-Cookie"):
        return response
    if not request.environ.get("mallow.edge.anonymous") or not set(session) <= ANONYMOUS_SESSION_KEYS:
        return response  # personal at the start, or made personal by the view (a flash, a sign-in)
    key = request_key(current_app, request.environ, store_id)
    if key is None:
        return response
    body = response.get_data()
    token = g.get("csrf_token") if response.mimetype == "text/html" else None
    has_csrf = bool(token) and token.encode() in body
    if has_csrf:
        body = body.replace(token.encode(), CSRF_MARKER.encode())
    said = g.get("mallow_fresh_seconds")  # fresh_for(0): not kept at all
    seconds = pages.seconds if said is None else min(pages.seconds, said)
    if seconds <= 0:
        return response
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("set-cookie", "content-length")]
    pages.put(key, Page(stamp, time.time() + seconds, body, headers, has_csrf))
    return response


def init_app(app, personal_cookies: tuple[str, ...]) -> None:
    """``personal_cookies``: prefixes of cookie names that make a request personal (the guest
    cart's, say)."""
    app.extensions[PERSONAL_COOKIES] = tuple(personal_cookies)
    app.extensions[SESSIONS] = SessionMemory()
    app.extensions[LOCALES] = {}
    app.extensions[EXTENSION] = PageMemory(
        int(app.config.get("MALLOW_EDGE_CACHE_ENTRIES", 20_000)),
        float(app.config.get("MALLOW_EDGE_CACHE_SECONDS", 60)),
        Path(app.config["MALLOW_DATA_DIR"]) / "pages",
        int(app.config.get("MALLOW_EDGE_CACHE_BYTES", 128 << 20)),
    )
    app.after_request(keep)
