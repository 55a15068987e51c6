"""The front door: answers what it can for a store before Flask dispatches the request.

A WSGI middleware around the app (inside :class:`mallow.tenants.resolve.SubdomainToPath`, so every
store request arrives as ``/s/<slug>/…``). For a store this process knows under its current
stamp (:mod:`mallow.tenants.snapshots`: one stamp check, no query) it tries, in order:

1. a plugin's **early answer** (:mod:`mallow.plugins.early`): a route a plugin answers from memory,
   e.g. the flash sale's "sold out", for the plugins enabled in that store. Early routes live
   only under a plugin's own prefixes (``/x/<plugin>/``, ``/api/x/<plugin>/``: the early map
   refuses others), so no other path is offered to them;
2. a core **lane** (:mod:`mallow.edge.lanes`): the happy path of a declared API operation
   (a cart write), answered with the bytes Flask's route would send, or handed to Flask;
3. a **kept page** (:mod:`mallow.edge.pages`) for an anonymous ``GET`` (a storefront page or a
   public catalogue API answer), with the visitor's own CSRF token put into its forms.

Anything else (and every request when the stamps are unavailable) goes to Flask unchanged; what
the door learnt on the way (``mallow.edge.anonymous``) travels in the WSGI environ. No request
context, no session object, no database session, not even a response object is made for an
answer given here: the status line and the headers go straight to ``start_response``. What a
request would otherwise work out again and again is remembered: the visitor's decoded session
cookie (:class:`mallow.edge.pages.SessionMemory`), the language of an ``Accept-Language``, the
plugins a store has on under its stamp, the serializers that sign a CSRF token and a session.
"""

from __future__ import annotations

import hashlib
import os

from werkzeug.http import HTTP_STATUS_CODES, dump_cookie

from mallow.edge import lanes
from mallow.edge import pages as kept_pages
from mallow.plugins import early
from mallow.plugins.stores import enabled_names
from mallow.security.signing import KeptKeySerializer
from mallow.tenants import snapshots, stamps
from mallow.tenants.resolve import ENVIRON_KEY

#: the in-store paths early routes may have (:func:`mallow.plugins.early._own_prefixes`)
EARLY_PREFIXES = ("/x/", "/api/x/")
#: stores the door remembers for early answers (with the plugins they have on, under their stamp)
STORE_ENTRIES = 20_000
_STATUS_LINES: dict[int, str] = {}


def status_line(code: int) -> str:
    """``409 CONFLICT``, as werkzeug's responses write it."""
    line = _STATUS_LINES.get(code)
    if line is None:
        line = _STATUS_LINES[code] = f"{code} {HTTP_STATUS_CODES.get(code, 'unknown').upper()}"
    return line


class StoreAtTheDoor:
    """What the door knows of a store: enough for early answers (see :mod:`mallow.plugins.early`)."""

    __slots__ = ("id", "slug", "status", "enabled", "stamp")

    def __init__(self, snapshot, enabled: frozenset[str]):
        self.id, self.slug, self.status, self.stamp = snapshot.id, snapshot.slug, snapshot.status, snapshot.stamp
        self.enabled = enabled


class FrontDoor:
    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self._stores: dict[int, tuple[object, StoreAtTheDoor]] = {}
        self._signers: dict[str, tuple[object, KeptKeySerializer]] = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/s/"):
            answered = self.answer(environ, path)
            if answered is not None:
                status, headers, body = answered
                start_response(status, headers)
                return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []
        return self.wsgi_app(environ, start_response)

    def answer(self, environ, path: str) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """``(status line, headers, body)`` when the door answers, else None (Flask does)."""
        app = self.app
        slash = path.find("/", 3)
        slug, rest = (path[3:], "") if slash < 0 else (path[3:slash], path[slash:])
        host_slug = environ.get(ENVIRON_KEY)
        if host_slug is not None and host_slug != slug:
            return None
        extensions = app.extensions
        pages = extensions[kept_pages.EXTENSION]
        method = environ.get("REQUEST_METHOD")
        visitor = cookies = None
        if pages.enabled and (method == "GET" or method == "HEAD"):
            cookies = kept_pages.cookies_of(environ)
            visitor = kept_pages.anonymous_session(app, cookies)
            environ["mallow.edge.anonymous"] = visitor is not None
        memory, app_stamps = extensions[snapshots.EXTENSION], extensions[stamps.EXTENSION]
        memory.preload(app, app_stamps)  # once per process
        snapshot = memory.known(slug, app_stamps)
        if snapshot is None:
            return None
        environ[snapshots.ENVIRON_SNAPSHOT] = snapshot  # the stamp read once: the resolver takes this reading
        if rest.startswith(EARLY_PREFIXES):
            store = self._store_of(snapshot)
            if store is not None:
                answered = early.early_answer(app, environ, store)
                if answered is not None:
                    status, headers, body = answered
                    return status_line(status), headers, body
        found_lanes = extensions.get(lanes.EXTENSION)
        if found_lanes is not None and method in found_lanes.methods:
            answered = lanes.answer(app, environ, snapshot, rest)
            if answered is not None:
                status, headers, body = answered
                return status_line(status), headers, body
        if visitor is None:
            return None
        key = kept_pages.request_key(app, environ, snapshot.id, cookies)
        page = pages.get(key, snapshot.stamp) if key is not None else None
        if page is None:
            return None
        if page.has_csrf:
            return self._filled(page, visitor)
        return "200 OK", list(page.served), page.body  # a copy: a middleware may add to it

    def _store_of(self, snapshot) -> StoreAtTheDoor | None:
        """The store as early answers see it, made once per snapshot (a snapshot is replaced when
        the store's stamp moves, and enabling a plugin moves it); None while the plugins it has
        on are not known under the snapshot's stamp."""
        found = self._stores.get(snapshot.id)
        if found is not None and found[0] is snapshot:
            return found[1]
        enabled = enabled_names(self.app, snapshot.id, snapshot.stamp)
        if enabled is None:
            return None
        if len(self._stores) >= STORE_ENTRIES:
            self._stores.clear()
        store = StoreAtTheDoor(snapshot, enabled)
        self._stores[snapshot.id] = (snapshot, store)
        return store

    def _signer(self, name: str, secret, make) -> KeptKeySerializer:
        """A serializer made once per secret (``make(secret)``) instead of once per request."""
        found = self._signers.get(name)
        if found is None or found[0] != secret:
            found = self._signers[name] = (secret, make(secret))
        return found[1]

    def _filled(self, page, visitor: dict) -> tuple[str, list[tuple[str, str]], bytes]:
        """The kept page with the visitor's own CSRF token where it has the marker (as Flask-WTF
        makes it: a raw token in the session, signed into the form); a visitor without one gets
        a new session cookie holding it (what Flask's session interface would set)."""
        app = self.app
        config = app.config
        field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        raw = visitor.get(field)
        headers = list(page.served)
        if not raw:
            interface = app.session_interface
            session = interface.session_class(visitor)
            raw = session[field] = hashlib.sha1(os.urandom(64)).hexdigest()
            serializer = interface.get_signing_serializer(app)  # kept per secret by the interface
            cookie = dump_cookie(
                interface.get_cookie_name(app),
                serializer.dumps(dict(session)),
                expires=interface.get_expiration_time(app, session),
                path=interface.get_cookie_path(app),
                domain=interface.get_cookie_domain(app),
                secure=interface.get_cookie_secure(app),
                httponly=interface.get_cookie_httponly(app),
                samesite=interface.get_cookie_samesite(app),
                partitioned=interface.get_cookie_partitioned(app),
            )
            headers.append(("Set-Cookie", cookie))  # (the kept headers say Vary: Cookie)
        secret = config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
        token = self._signer("csrf", secret, lambda key: KeptKeySerializer(key, salt="wtf-csrf-token")).dumps(raw)
        body = page.body.replace(kept_pages.CSRF_MARKER.encode(), token.encode())
        headers.append(("Content-Length", str(len(body))))
        return "200 OK", headers, body


def install(app) -> None:
    """Put the door in front of ``app`` (before the subdomain rewrite wraps it: that stays outermost)."""
    app.wsgi_app = FrontDoor(app, app.wsgi_app)
