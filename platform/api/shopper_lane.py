"""What the store API's lanes for a signed-in shopper share (:mod:`mallow.edge.lanes`; the cart
write, :mod:`mallow.api.cart_lane`, and order placement, :mod:`mallow.api.order_lane`).

A request may take such a lane only when Flask would answer it the same way and nothing of
Flask's own could differ: no query string (``?lang=`` sets a cookie), no rate limit that applies
to the route, a JSON body (``application/json``, at most :data:`mallow.edge.lanes.MAX_BODY`)
valid for the operation's schema (compiled once: :func:`mallow.edge.lanes.body_check`), the cookies
the lane allows (:meth:`ShopperLane.cookies_ok`), and a shopper's bearer token this process holds
in its session memory (:func:`customer_from_memory`: no statement). The lane's work runs in an
app context of the store as the resolver leaves it (:func:`enter_store`), in the language Flask
would choose (the ``lang`` cookie, else ``Accept-Language``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import sqlalchemy as sa
from flask import g
from flask_babel import force_locale
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.base import instance_state
from werkzeug.http import parse_cookie

from mallow.accounts import session_memory
from mallow.accounts.sessions import TOKEN_PREFIX
from mallow.api.registry import ApiRegistry
from mallow.db.session import STORE_SCHEMA, bind_store
from mallow.edge import lanes
from mallow.extensions import choose_locale
from mallow.plugins import breaker
from mallow.tenants import stamps
from mallow.tenants.context import engine_of
from mallow.tenants.engines import pod_key, schema_name
from mallow.tenants.models import Store

#: what every answer of the routes carries after the app's own headers (the session was read)
HEADERS = (("Vary", "Cookie"),)
#: the language cookie: the one cookie every shopper lane lets through
LANG = "lang"
T = TypeVar("T")


_SHOPPER = TOKEN_PREFIX["shopper"] + "_"
_STORE_MANAGER = sa.inspect(Store).class_manager


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def customer_from_memory(app, environ: dict, store_id: int) -> int | None:
    """The shopper behind the request's bearer token, from this process's session memory only
    (what :func:`mallow.accounts.sessions.lookup` would accept), else None."""
    scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    secret = value.strip()
    if scheme.lower() != "bearer" or not secret.startswith(_SHOPPER):
        return None
    memory, app_stamps = app.extensions.get(session_memory.EXTENSION), app.extensions.get(stamps.EXTENSION)
    if memory is None or app_stamps is None:
        return None
    kept = memory.entries.get((store_id, hashlib.sha256(secret.encode()).hexdigest()))
    if kept is None:
        return None
    stamp = app_stamps.backend.current_name(session_memory.stamp_name(store_id))
    if stamp is None or kept.stamp != stamp:
        return None
    session, customer = kept.session, kept.customer
    if session["via"] != "token" or not customer["active"]:  # Customer.is_active
        return None
    if _aware(session["expires_at"]) <= datetime.now(UTC):
        return None
    return customer["id"]


_kept = threading.local()


def _store(snapshot) -> Store:
    """The store row as ``snapshot`` holds it (loaded state, in no session: nothing to query),
    made once per snapshot and thread: a snapshot never changes (a moved stamp makes a new one)
    and core rows are read-only to plugin code; one that something attached to a session or
    expired since is made again."""
    found = getattr(_kept, "store", None)
    if found is not None and found[0] is snapshot:
        state = instance_state(found[1])
        if state.session_id is None and not state.expired_attributes:  # as made: detached, loaded
            return found[1]
    store = _STORE_MANAGER.new_instance()
    store.__dict__.update(snapshot.values)
    make_transient_to_detached(store)
    _kept.store = (snapshot, store)
    return store


def enter_store(app, snapshot) -> None:
    """The store of the request in the fresh app context, as the resolver leaves it
    (:func:`mallow.tenants.context.activate_store` after :func:`mallow.tenants.snapshots.find`),
    without making a database session nobody may use (the pricing hooks make one if they ask)."""
    store_id = snapshot.id
    pod = pod_key(snapshot.values.get("pod"))
    # set on ``g`` itself at once (each attribute set through its proxy is three calls)
    vars(g._get_current_object()).update(
        mallow_store_stamp=snapshot.stamp,
        mallow_store_values=snapshot.values,
        mallow_store=_store(snapshot),
        mallow_store_id=store_id,
        mallow_store_slug=snapshot.slug,
        mallow_store_pod=pod,
    )
    # the store's tables where the resolver would find them: the platform's database (the
    # session's own connection), another pod's, or the store's SQLite file
    bind_store(engine_of(store_id, pod), {STORE_SCHEMA: schema_name(store_id)})


class ShopperLane:
    """A lane of one store-API operation (``OPERATION``) for a signed-in shopper, in one app: its
    body schema compiled once."""

    OPERATION: str

    def __init__(self, app, registry: ApiRegistry):
        op = next(op for op in registry.operations if op.operation_id == self.OPERATION)
        self.valid = lanes.body_check(op.body)
        self.limited = op.limited
        self.locales = (tuple(app.config["MALLOW_LOCALES"]), app.config["BABEL_DEFAULT_LOCALE"])

    def cookies_ok(self, app, cookies) -> bool:
        """Whether the request's cookies leave the route's answer as the lane's."""
        return True

    def admit(self, app, environ: dict, snapshot) -> tuple[int, dict, str] | None:
        """``(the shopper's customer id, the JSON body, the language)`` when the request may take
        the lane, else None (Flask answers)."""
        if environ.get("QUERY_STRING") or lanes.limits_apply(self.limited):
            return None
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype != "application/json":
            return None
        lang = None
        if environ.get("HTTP_COOKIE"):
            cookies = parse_cookie(environ)
            if not self.cookies_ok(app, cookies):
                return None
            lang = cookies.get(LANG)
        customer_id = customer_from_memory(app, environ, snapshot.id)
        if customer_id is None:
            return None
        limit = app.config.get("MAX_CONTENT_LENGTH")
        body = lanes.read_body(environ, min(lanes.MAX_BODY, limit) if limit else lanes.MAX_BODY)
        if not body:
            return None
        try:
            payload = app.json.loads(body)
        except ValueError:
            return None
        if not self.valid(payload):
            return None
        supported, default = self.locales
        return customer_id, payload, choose_locale(supported, default, None, lang, environ.get("HTTP_ACCEPT_LANGUAGE"))

    def in_store(self, app, snapshot, locale: str, work: Callable[[], T]) -> T:
        """``work()`` in an app context of the store, in ``locale``."""
        with app.app_context():
            enter_store(app, snapshot)
            if locale == self.locales[1]:  # what the app context answers already
                done = work()
            else:
                with force_locale(locale):
                    done = work()
            if g.get("mallow_breaker_pending"):  # a plugin's breaker opened while pricing
                breaker.announce_pending()
        return done
