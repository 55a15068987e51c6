"""The cart write on a lane (:mod:`mallow.edge.lanes`): ``PUT /s/<store>/api/cart/items/<sku_id>``
answered at the front door, before Flask, when it is the happy path.

What the lane answers, with the bytes, status and headers :func:`mallow.api.cart.set_cart_quantity`
would send: a shopper whose bearer token this process holds in its session memory
(:mod:`mallow.accounts.session_memory`, under the store's current sessions stamp: no statement)
sets a line already in the cart to 1–999 or removes it (0), in an open store, and every line of
the cart can be priced (the quote has no problem). The change and the cart's lines are one
statement on PostgreSQL (:func:`mallow.cart.service.change_and_read`), sent on a pooled
connection of the store's engine outside a transaction (one statement is atomic: no ``BEGIN``,
no ``COMMIT``); a removal runs in a transaction, committed only once the answer is known. On
SQLite the write commits without waiting for the disk (:func:`mallow.db.durability.relaxed`). The
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


from mallow.api.registry import ApiRegistry
from mallow.api.shopper_lane import HEADERS, ShopperLane
from mallow.cart import service as carts
from mallow.db import durability, hygiene
from mallow.edge import lanes
from mallow.orders import checkout, receipts
from mallow.tenants import recycling
from mallow.validation import ValidationFailed

RULE = "/api/cart/items/<int:sku_id>"  # setCartQuantity, inside the store
OPERATION = "setCartQuantity"


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


class CartQuantityLane(ShopperLane):
    """The lane of ``setCartQuantity`` in one app."""

    OPERATION = OPERATION

    def cookies_ok(self, app, cookies) -> bool:
        return app.config["SESSION_COOKIE_NAME"] not in cookies  # Flask's session may answer with one

    def __call__(self, app, environ: dict, snapshot, args: dict):
        admitted = self.admit(app, environ, snapshot)
        if admitted is None:
            return None
        customer_id, payload, locale = admitted
        quantity = int(payload["quantity"])
        data = self.in_store(
            app, snapshot, locale, lambda: self._write(app, snapshot.id, customer_id, args["sku_id"], quantity)
        )
        if data is None:
            return None
        return lanes.json_answer(app, 200, data, HEADERS)

    def _write(self, app, store_id: int, customer_id: int, sku_id: int, quantity: int) -> dict | None:
        engines = app.extensions["mallow.store_engines"]
        with engines.engine_for(store_id).connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            hygiene.vouch(connection)  # nothing but its statements: the pool may skip its checks
            if not (quantity > 0 and postgres):
                with durability.relaxed(connection):  # SQLite: a cart line need not wait for the disk
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
