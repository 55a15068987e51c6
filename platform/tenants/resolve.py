"""Resolving the store of a request: once, in one place.

Two ways in, one mechanism:

* ``/s/<slug>/…`` on the platform host: every store route is registered under this prefix.
* ``<slug>.<MALLOW_STORE_DOMAIN>/…``: :class:`SubdomainToPath` rewrites the path to
  ``/s/<slug>/…`` before Flask routes it, so both ways reach the same routes. A path that
  already names the same store is left alone (links built by ``url_for`` work on both hosts);
  a path that names another store does not route.

The URL value processor then finds the store once (:mod:`mallow.tenants.snapshots`: from memory
while its stamp holds) and activates it (its engine, its schema).
The store never comes from a header, query parameter or body field.
"""

from __future__ import annotations

from flask import Flask, abort, g, request
from flask.globals import _cv_app
from flask_babel import gettext as _
from werkzeug.exceptions import ServiceUnavailable

from mallow.tenants import snapshots
from mallow.tenants.context import activate_store, current_store
from mallow.tenants.slugs import SLUG_RE

SLUG_ARG = "store_slug"
STORE_PREFIX = f"/s/<{SLUG_ARG}>"
ENVIRON_KEY = "mallow.subdomain_store"


class SubdomainToPath:
    """WSGI middleware: ``shop.mallow.example/x`` is served as ``/s/shop/x``."""

    def __init__(self, wsgi_app, store_domain: str):
        self.wsgi_app = wsgi_app
        self.suffix = "." + store_domain.lower().lstrip(".")

    def __call__(self, environ, start_response):
        host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "").lower()
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if host.endswith(self.suffix):
            slug = host[: -len(self.suffix)]
            if SLUG_RE.match(slug):
                environ[ENVIRON_KEY] = slug
                path = environ.get("PATH_INFO", "") or "/"
                prefix = f"/s/{slug}"
                shared_asset = path.startswith("/static/")
                if not (shared_asset or path == prefix or path.startswith(prefix + "/")):
                    environ["PATH_INFO"] = prefix + (path if path.startswith("/") else "/" + path)
            else:
                environ[ENVIRON_KEY] = ""  # a host under the store domain that is no slug
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    snapshots.init_app(app)
    app.wsgi_app = SubdomainToPath(app.wsgi_app, app.config["MALLOW_STORE_DOMAIN"])

    @app.url_value_preprocessor
    def resolve_store(endpoint, values):
        host_slug = request.environ.get(ENVIRON_KEY)
        if not values or SLUG_ARG not in values:
            if host_slug is not None and endpoint != "static":
                abort(404)  # platform routes are not served on store hosts
            return
        slug = values.pop(SLUG_ARG)
        if host_slug is not None and host_slug != slug:
            abort(404)
        store = snapshots.find(slug)  # from this process's memory while the store's stamp holds
        if store is None or store.status == "purged":
            abort(404)
        if store.status == "closed":
            _closed_store_gate(endpoint)
        if store.moving_to is not None and request.method not in READ_METHODS:
            raise store_moving()
        activate_store(store)

    @app.url_defaults
    def add_store_slug(endpoint, values):
        if SLUG_ARG in values:
            return
        ctx = _cv_app.get(None)  # (the store of this context, read from it: asked by every url_for)
        found = ctx.g.__dict__ if ctx is not None else {}
        slug = found.get("mallow_store_slug") if found.get("mallow_store") is not None else None
        if slug is not None and app.url_map.is_endpoint_expecting(endpoint, SLUG_ARG):
            values[SLUG_ARG] = slug

    @app.context_processor
    def store_in_templates():
        return {"store": current_store()}


#: what a store being moved to another pod still answers (from its old pod); every other request
#: would write, and is answered 503 with ``Retry-After`` until the move ends (mallow.stores.move)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: seconds a client is told to wait while a store's writes are frozen for a move
MOVE_RETRY_AFTER = 2


def store_moving() -> ServiceUnavailable:
    """The answer to a write while the store is being moved: nothing was saved, try again."""
    return ServiceUnavailable(
        description=_("This store is moving to a new home: nothing was saved. Please try again in a moment."),
        retry_after=MOVE_RETRY_AFTER,
    )


#: a closed store still answers these: the page saying it has closed, and the payment provider's
#: notifications (a refund of an order placed before it closed: money moves on)
CLOSED_STORE_ENDPOINTS = frozenset({"pages.landing", "store_api.paymentNotify"})


def _closed_store_gate(endpoint: str | None) -> None:
    """A closed store (its data kept until purged): shoppers' pages say it has closed
    (``storefront`` area), its staff read the console (writes refused), payment notifications are
    taken; every other route (the JSON APIs) is not found."""
    endpoint = endpoint or ""
    if endpoint.startswith("storefront.") or endpoint in CLOSED_STORE_ENDPOINTS:
        return
    if endpoint.startswith("console."):
        if request.method not in ("GET", "HEAD"):
            abort(403, description="This store is closed: its console is read-only.")
        return
    abort(404)


def store_url_prefix(suffix: str = "") -> str:
    """URL prefix for a store blueprint: ``/s/<store_slug>`` + ``suffix``."""
    return STORE_PREFIX + suffix


def require_store():
    store = g.get("mallow_store")
    if store is None:
        abort(404)
    return store
