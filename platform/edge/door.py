"""The front door: answers what it can for a store before Flask dispatches the request.

A WSGI middleware around the app (inside :class:`mallow.tenants.resolve.SubdomainToPath`, so every
store request arrives as ``/s/<slug>/…``). For a store this process knows under its current
stamp (:mod:`mallow.tenants.snapshots`: one stamp check, no query) it tries, in order:

1. a plugin's **early answer** (:mod:`mallow.plugins.early`): a route a plugin answers from memory,
   e.g. the flash sale's "sold out", for the plugins enabled in that store;
2. a **kept page** (:mod:`mallow.edge.pages`) for an anonymous ``GET``, with the visitor's own
   CSRF token put into its forms.

Anything else (and every request when the stamps are unavailable) goes to Flask unchanged; what
the door learnt on the way (``mallow.edge.anonymous``) travels in the WSGI environ. No request
context, no session object, no database session is made for an answer given here.
"""

from __future__ import annotations

import hashlib
import os

from itsdangerous import URLSafeTimedSerializer
from werkzeug.http import parse_cookie
from werkzeug.wrappers import Response

from mallow.edge import pages as kept_pages
from mallow.plugins import early
from mallow.plugins.stores import enabled_names
from mallow.tenants import snapshots, stamps
from mallow.tenants.resolve import ENVIRON_KEY


class StoreAtTheDoor:
    """What the door knows of a store: enough for early answers (see :mod:`mallow.plugins.early`)."""

    __slots__ = ("id", "slug", "status", "enabled", "stamp")

    def __init__(self, snapshot, enabled: frozenset[str]):
        self.id, self.slug, self.status, self.stamp = snapshot.id, snapshot.slug, snapshot.status, snapshot.stamp
        self.enabled = enabled


class FrontDoor:
    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/s/"):
            response = self.answer(environ, path)
            if response is not None:
                return response(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def answer(self, environ, path: str):
        app = self.app
        slug = path[3:].split("/", 1)[0]
        host_slug = environ.get(ENVIRON_KEY)
        if host_slug is not None and host_slug != slug:
            return None
        pages = app.extensions[kept_pages.EXTENSION]
        method = environ.get("REQUEST_METHOD")
        visitor = None
        if pages.enabled and method in ("GET", "HEAD"):
            visitor = kept_pages.anonymous_session(app, parse_cookie(environ.get("HTTP_COOKIE", "")))
            environ["mallow.edge.anonymous"] = visitor is not None
        memory, app_stamps = app.extensions[snapshots.EXTENSION], app.extensions[stamps.EXTENSION]
        memory.preload(app, app_stamps)  # once per process
        snapshot = memory.known(slug, app_stamps)
        if snapshot is None:
            return None
        enabled = enabled_names(app, snapshot.id, snapshot.stamp)
        if enabled is not None:
            answered = early.early_answer(app, environ, StoreAtTheDoor(snapshot, enabled))
            if answered is not None:
                status, headers, body = answered
                return Response(body, status=status, headers=headers)
        if visitor is None:
            return None
        key = kept_pages.request_key(app, environ, snapshot.id)
        page = pages.get(key, snapshot.stamp) if key is not None else None
        if page is None:
            return None
        response = Response(page.body, status=200, headers=page.headers)
        response.headers["X-Mallow-Cache"] = "hit"
        if page.has_csrf:
            self._fill_csrf(response, visitor)
        return response

    def _fill_csrf(self, response: Response, visitor: dict) -> None:
        """The visitor's own CSRF token where the kept page has the marker (as Flask-WTF makes
        it: a raw token in the session, signed into the form); a visitor without one gets a new
        session cookie holding it."""
        app = self.app
        field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        raw = visitor.get(field)
        interface = app.session_interface
        if not raw:
            session = interface.session_class(visitor)
            session[field] = hashlib.sha1(os.urandom(64)).hexdigest()  # modified: the cookie is set
            interface.save_session(app, session, response)
            raw = session[field]
        secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
        token = URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)
        response.set_data(response.get_data().replace(kept_pages.CSRF_MARKER.encode(), token.encode()))


def install(app) -> None:
    """Put the door in front of ``app`` (before the subdomain rewrite wraps it: that stays outermost)."""
    app.wsgi_app = FrontDoor(app, app.wsgi_app)
