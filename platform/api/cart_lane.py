"""The cart write on a lane (:mod:`mallow.edge.lanes`): ``PUT /s/<store>/api/cart/items/<sku_id>``
answered at the front door, before Flask, when it is the happy path.

What the lane answers, with the bytes, status and headers :func:`mallow.api.cart.set_cart_quantity`
would send: a shopper whose bearer token this process holds in its session memory
(:mod:`mallow.accounts.session_memory`, under the store's current sessions stamp: no statement)
sets a line already in the cart to 1–999 or removes it (0), in an open store, and every line of
the cart can be priced (the quote has no problem). The change and the cart's lines are one
statement on PostgreSQL (:func:`mallow.cart.service.change_and_read`), sent on a pooled
connection of the store's engine outside a transaction (one statement is atomic: no ``BEGIN``,
no ``COMMIT``); a removal runs in a transaction, committed only once the answer is known. The
quote is the route's (:func:`mallow.orders.checkout.quote_read` on the rows the statement read,
the store's pricing hooks as guarded as in Flask) inside an app context of the store, with no
request context.

Everything else goes to Flask, which answers as it always does: a token the memory does not
hold (Flask looks it up, and remembers it), another store's or a revoked one, a body that is not
a JSON object valid for the operation's schema, a query string (``?lang=`` sets a cookie), a
session cookie (Flask's session may answer with one), a SKU not in the cart (nothing changed), a
quote with a problem or a line that cannot be bought now (the route names them), a rate limit
that applies to the route, any exception. A quantity set before giving way stays set: Flask's
route sets it again, to the same cart and the same answer; a removal is rolled back first.

The answer has no translated text on its happy path (ids, numbers and the products' own titles;
an adjustment's label, e.g. the shipping fee's, is written in the language Flask would choose:
the ``lang`` cookie, else ``Accept-Language``).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import g
from flask_babel import force_locale
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.base import instance_state
from werkzeug.http import parse_cookie

from mallow.accounts import session_memory
from mallow.accounts.sessions import TOKEN_PREFIX
from mallow.api.registry import ApiRegistry
from mallow.cart import service as carts
from mallow.db import hygiene
from mallow.db.session import STORE_SCHEMA, bind_store
from mallow.edge import lanes
from mallow.extensions import choose_locale
from mallow.orders import checkout, receipts
from mallow.plugins import breaker
from mallow.tenants import recycling, stamps
from mallow.tenants.context import engine_of
from mallow.tenants.engines import pod_key, schema_name
from mallow.tenants.models import Store
from mallow.validation import ValidationFailed

RULE = "/api/cart/items/<int:sku_id>"  # setCartQuantity, inside the store
OPERATION = "setCartQuantity"
_SHOPPER = TOKEN_PREFIX["shopper"] + "_"
_STORE_MANAGER = sa.inspect(Store).class_manager
#: what every answer of the route carries after the app's own headers (the session was read)
_HEADERS = (("Vary", "Cookie"),)


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


def _enter(app, snapshot) -> None:
    """The store of the request in the fresh app context, as the resolver leaves it
    (:func:`mallow.tenants.context.activate_store` after :func:`mallow.tenants.snapshots.find`),
    without making a database session nobody may use (the pricing hooks make one if they ask)."""
    store_id = snapshot.id
    g.mallow_store_stamp, g.mallow_store_values = snapshot.stamp, snapshot.values
    g.mallow_store, g.mallow_store_id, g.mallow_store_slug = _store(snapshot), store_id, snapshot.slug
    # the store's tables where the resolver would find them: the platform's database (the
    # session's own connection), another pod's, or the store's SQLite file
    g.mallow_store_pod = pod = pod_key(snapshot.values.get("pod"))
    bind_store(engine_of(store_id, pod), {STORE_SCHEMA: schema_name(store_id)})


def _note_schema(connection) -> None:
    """What :mod:`mallow.tenants.recycling` notes of a statement it sees with its context: the
    store schema the pooled connection served (the lean statement reaches its listener without
    one), so a connection that served too many schemas is still closed when it returns."""
    translate = connection.get_execution_options().get("schema_translate_map") or {}
    connection.connection.info.setdefault(recycling.SEEN, set()).update(name for name in translate.values() if name)


def _priced(customer_id: int, items: list[dict], found: dict[int, tuple]) -> dict | None:
    """The route's answer when every line can be priced and the quote has no problem, else None."""
    if not items:
        return {"items": [], "quote": None}
    try:
        quote = receipts.quote_json(checkout.quote_read(customer_id, items, found))
    except ValidationFailed:  # a line not for sale now: the route names it (``unavailable``)
        return None
    if quote["problems"]:
        return None
    return {"items": items, "quote": quote}


class CartQuantityLane:
    """The lane of ``setCartQuantity`` in one app: its body schema compiled once."""

    def __init__(self, app, registry: ApiRegistry):
        op = next(op for op in registry.operations if op.operation_id == OPERATION)
        self.valid = lanes.body_check(op.body)
        self.limited = op.limited
        self.locales = (tuple(app.config["MALLOW_LOCALES"]), app.config["BABEL_DEFAULT_LOCALE"])

    def __call__(self, app, environ: dict, snapshot, args: dict):
        if environ.get("QUERY_STRING") or lanes.limits_apply(self.limited):
            return None
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype != "application/json":
            return None
        lang = None
        if environ.get("HTTP_COOKIE"):
            cookies = parse_cookie(environ)
            if app.config["SESSION_COOKIE_NAME"] in cookies:
                return None
            lang = cookies.get("lang")
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
        quantity = int(payload["quantity"])
        supported, default = self.locales
        locale = choose_locale(supported, default, None, lang, environ.get("HTTP_ACCEPT_LANGUAGE"))
        with app.app_context():
            _enter(app, snapshot)
            if locale == default:  # what the app context answers already
                data = self._write(app, snapshot.id, customer_id, args["sku_id"], quantity)
            else:
                with force_locale(locale):
                    data = self._write(app, snapshot.id, customer_id, args["sku_id"], quantity)
            if g.get("mallow_breaker_pending"):  # a plugin's breaker opened while pricing
                breaker.announce_pending()
        if data is None:
            return None
        return lanes.json_answer(app, 200, data, _HEADERS)

    def _write(self, app, store_id: int, customer_id: int, sku_id: int, quantity: int) -> dict | None:
        engines = app.extensions["mallow.store_engines"]
        with engines.engine_for(store_id).connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            hygiene.vouch(connection)  # nothing but its statements: the pool may skip its checks
            if not (quantity > 0 and postgres):
                return self._in_transaction(connection, customer_id, sku_id, quantity)
            # one statement, atomic by itself: no BEGIN, no COMMIT. Setting a quantity is
            # repeatable: when the lane gives way after it, Flask's route sets it again. The
            # driver's own switch (SQLAlchemy's isolation_level option costs five times as much),
            # put back before the connection returns to the pool
            _note_schema(connection)
            driver = connection.connection.dbapi_connection
            driver.autocommit = True
            try:
                found = carts.change_and_read(connection, customer_id, sku_id, quantity, lean=True)
            finally:
                if not connection.invalidated:  # (discarded after an error: nothing to put back)
                    driver.autocommit = False
        return None if found is None else _priced(customer_id, *found)  # the connection back in the pool

    def _in_transaction(self, connection, customer_id: int, sku_id: int, quantity: int) -> dict | None:
        """SQLite's two statements, and a removal (priced before it is committed)."""
        transaction = connection.begin()
        try:
            found = carts.change_and_read(connection, customer_id, sku_id, quantity)
            if found is None:  # not in the cart: nothing changed
                transaction.rollback()
                return None
            if quantity > 0:  # commit first (SQLite: the store's write lock), then price
                transaction.commit()
                return _priced(customer_id, *found)
            data = _priced(customer_id, *found)  # a removal: committed once the answer is known
            if data is None:
                transaction.rollback()
                return None
            transaction.commit()
            return data
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise


def install(app, registry: ApiRegistry) -> None:
    """Put the cart write on a lane when the app routes ``setCartQuantity``."""
    if any(op.operation_id == OPERATION for op in registry.operations):
        lanes.register(app, "PUT", RULE, CartQuantityLane(app, registry))
