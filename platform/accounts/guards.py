"""Who is asking, and may they? Decorators for every protected route.

The principal of a request is looked up per kind, never trusted across kinds: API routes read
the ``Authorization: Bearer`` header (so they need no CSRF token), pages read only their
namespace of the signed session cookie. One exception, for the console's own scripts (the page
editor): the store console API also answers a merchant's browser session when no bearer token is
sent, and then a request that changes something must carry the session's CSRF token in
``X-CSRFToken`` (400 otherwise), like a form. Store routes check membership in the *active store's*
own tables: a merchant of store A has no ``Staff`` row in store B, and a shopper token of A is
not in B's ``customer_sessions``.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, g, jsonify, make_response, redirect, request, session, url_for
from flask_babel import gettext as _
from mallow.accounts import sessions
from mallow.accounts.models import Staff
from mallow.audit import record_denial
from mallow.db import db
from mallow.extensions import csrf
from mallow.tenants.context import current_store
from mallow.web import is_api_request

LOGIN_ENDPOINTS = {
    "admin": "admin.login",
    "merchant": "merchant.login",
    "shopper": "storefront.login",
    "developer": "devconsole.login",
}


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def bearer_kind() -> str | None:
    """The kind of bearer token sent (by its prefix), whether or not it is valid."""
    return sessions.PREFIX_KIND.get((bearer_secret() or "").split("_", 1)[0])


def principal(kind: str):
    """The authenticated ``kind`` principal of this request (admin | merchant | shopper |
    developer) or None."""
    cache = g.setdefault("mallow_principals", {})
    if kind in cache:
        return cache[kind][0] if cache[kind] else None
    store = current_store()
    if kind == "shopper" and store is None:
        cache[kind] = None
        return None
    if is_api_request() and not _browser_on_console_api(kind):
        found = sessions.lookup(kind, bearer_secret(), "token")
    else:
        found = sessions.lookup(kind, session.get(sessions.session_key(kind, store.id if store else None)), "cookie")
        if found and is_api_request() and request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()  # a browser session on the console API: its CSRF token, like a form
    cache[kind] = found
    return found[0] if found else None


def _browser_on_console_api(kind: str) -> bool:
    """A merchant's browser session (no bearer token) calling the store console API."""
    return kind == "merchant" and bearer_secret() is None and request.blueprint == "console_api"


def _session_row(kind: str):
    found = g.get("mallow_principals", {}).get(kind)
    return found[1] if found else None


def _unauthenticated(kind: str):
    if is_api_request():
        if kind == "shopper" and bearer_kind() == "shopper":
            # shoppers exist in one store: another store's token (or a revoked one) is refused here, and logged
            # like a staff denial (the path and the reason, never the token)
            store = current_store()
            record_denial(
                "shopper token unknown in this store", actor="anonymous", store_id=store.id if store else None
            )
        response = jsonify(error="unauthenticated", message=_("Sign in or send a valid bearer token."))
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        abort(response)
    abort(redirect(url_for(LOGIN_ENDPOINTS[kind], next=request.full_path if request.query_string else request.path)))


def _forbidden(reason: str, actor=None):
    store = current_store()
    record_denial(reason, actor=actor, store_id=store.id if store else None)
    if is_api_request():
        abort(make_response(jsonify(error="forbidden", message=_("You have no access to this resource.")), 403))
    abort(403)


def admin_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if principal("admin") is None:
            _unauthenticated("admin")
        return view(*args, **kwargs)

    return wrapped


def merchant_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if principal("merchant") is None:
            _unauthenticated("merchant")
        return view(*args, **kwargs)

    return wrapped


def developer_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if principal("developer") is None:
            _unauthenticated("developer")
        return view(*args, **kwargs)

    return wrapped


def current_staff() -> Staff | None:
    """The active store's ``Staff`` row of the signed-in merchant, or None."""
    if "mallow_staff" in g:
        return g.mallow_staff
    merchant, store = principal("merchant"), current_store()
    staff = None
    if merchant is not None and store is not None:
        row = _session_row("merchant")
        if row is None or row.store_id in (None, store.id):
            staff = db.session.execute(
                db.select(Staff).where(Staff.merchant_id == merchant.id, Staff.active.is_(True))
            ).scalar_one_or_none()
    g.mallow_staff = staff
    return staff


def staff_required(view=None, *, owner: bool = False):
    """Only staff of the active store (with ``owner=True``: only its owner)."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            merchant = principal("merchant")
            if merchant is None:
                _unauthenticated("merchant")
            staff = current_staff()
            if staff is None:
                _forbidden("not staff of this store", merchant)
            if owner and staff.role != "owner":
                _forbidden("owner only", merchant)
            return view(*args, **kwargs)

        return wrapped

    return decorate(view) if view is not None else decorate


def shopper_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if principal("shopper") is None:
            _unauthenticated("shopper")
        return view(*args, **kwargs)

    return wrapped
