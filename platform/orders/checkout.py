"""Turning a cart (or a list of SKUs) into an order: price, validate, reserve stock, write —
all in one transaction, or nothing.

``Idempotency-Key`` (per shopper): the first result is stored on the order and returned again
for repeats; the same key with a different request is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.base import instance_state
from sqlalchemy.orm.attributes import set_committed_value

from mallow import settings
from mallow.catalog.models import Product, Sku
from mallow.db import db, sqltext, with_commit
from mallow.inventory import alerts, stock
from mallow.orders import addresses
from mallow.orders.models import Address, Order, OrderAdjustment, OrderEvent, OrderLine
from mallow.plugins.faults import call_hook
from mallow.plugins.manager import hooks
from mallow.pricing import pipeline
from mallow.pricing.model import PricedOrder, PricingContext, PricingLine, plugin_failed
from mallow.qualifications import selling
from mallow.tenants import snapshots
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web.ids import id_value

MAX_LINES = 50


class SoldOut(Exception):
    """Not enough stock for a line: nothing was written."""

    def __init__(self, sku_id: int, title: str):
        super().__init__(f"sold out: {title}")
        self.sku_id, self.title = sku_id, title


class IdempotencyConflict(Exception):
    """The same Idempotency-Key came with a different request."""


class CheckoutProblems(Exception):
    def __init__(self, problems):
        super().__init__(", ".join(p.code for p in problems))
        self.problems = problems


def _items(raw_items) -> list[tuple[int, int]]:
    if not isinstance(raw_items, list) or not raw_items or len(raw_items) > MAX_LINES:
        raise ValidationFailed({"items": ("invalid", _("Choose between 1 and %(max)s items.", max=MAX_LINES))})
    merged: dict[int, int] = {}
    for item in raw_items:
        try:
            sku_id, quantity = int(item["sku_id"]), int(item["quantity"])
        except (TypeError, ValueError, KeyError):
            raise ValidationFailed(
                {"items": ("invalid", _("Each item needs a product option and a quantity."))}
            ) from None
        if not 1 <= quantity <= 999:
            raise ValidationFailed({"items": ("invalid", _("Enter a quantity from 1 to %(max)s.", max=999))})
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    return sorted(merged.items())  # a fixed lock order: no deadlocks between two orders


@functools.cache
def _sellable_query() -> sa.Select:
    """Built once (and its cache key with it): what pricing needs of each SKU and its product,
    as plain columns (no ORM objects to build for a read whose rows nobody keeps)."""
    return (
        sa.select(
            Sku.id,
            Sku.active,
            Sku.spec_key,
            Sku.price,
            Sku.weight_g,
            Product.id,
            Product.status,
            Product.title,
            Product.shipping_template_id,
        )
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.id.in_(sa.bindparam("ids", expanding=True)))
    )


def _sellable(sku_ids: list[int], found: dict[int, tuple] | None = None) -> dict[int, tuple]:
    """Each SKU's row (``id, active, spec_key, price, weight_g, product_id, status, title,
    shipping_template_id``) if a shopper may buy it now, else the field error of
    :func:`mallow.cart.service.sellable_sku` for the first that may not (same rule, same
    messages), in one query for every line instead of two per line; none when the caller read
    the rows already (``found``, e.g. with the cart's lines)."""
    if found is None:
        valid = [sku_id for sku_id in sku_ids if id_value(sku_id) is not None]
        found = {row[0]: row for row in db.session.execute(_sellable_query(), {"ids": valid})} if valid else {}
    for position, sku_id in enumerate(sku_ids):
        if id_value(sku_id) is None:
            raise ValidationFailed({"sku_id": ("invalid", _("Choose a product option."))})
        row = found.get(sku_id)
        if row is None or not row[1] or row[6] != "on_shelf":
            raise ValidationFailed({"sku_id": ("unavailable", _("This product is not for sale."))})
        if position == 0:  # a permit the store needs lapsed: nothing is for sale (asked once)
            selling.refuse_purchase()
    return found


def build_context(
    customer_id: int | None,
    raw_items,
    province: str | None,
    options: dict | None = None,
    found: dict[int, tuple] | None = None,
) -> PricingContext:
    items = _items(raw_items)
    found = _sellable([sku_id for sku_id, _quantity in items], found)
    lines = []
    for index, (sku_id, quantity) in enumerate(items):
        _id, _active, spec_key, price, weight_g, product_id, _status, title, template_id = found[sku_id]
        lines.append(PricingLine(index, sku_id, product_id, title, spec_key, price, quantity, weight_g, template_id))
    return PricingContext(
        store_id=current_store().id,
        customer_id=customer_id,
        lines=lines,
        province=province,
        options=dict(options or {}),
    )


def quote(customer_id: int | None, raw_items, province: str | None = None, options: dict | None = None) -> PricedOrder:
    return pipeline.price(build_context(customer_id, raw_items, province, options))


def quote_read(customer_id: int | None, raw_items, found: dict[int, tuple]) -> PricedOrder:
    """:func:`quote` of items whose SKUs the caller read already (``found``: their rows as
    :func:`_sellable` reads them, e.g. with the cart's lines): no statement of its own."""
    return pipeline.price(build_context(customer_id, raw_items, None, None, found))


def _request_hash(items: list[tuple[int, int]], address_id, note, options) -> str:
    """The digest of a request as :func:`_items` merged its items (stored on the order: keep it
    stable, or repeats of orders placed before a change would be refused)."""
    body = json.dumps(
        {"items": items, "address_id": address_id, "note": note, "options": options or {}},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@functools.cache
def _replay_query() -> sa.Select:
    return sa.select(Order).where(
        Order.customer_id == sa.bindparam("customer_id"), Order.idempotency_key == sa.bindparam("key")
    )


def _replay(customer_id: int, key: str, request_hash: str) -> Order | None:
    order = db.session.execute(_replay_query(), {"customer_id": customer_id, "key": key}).scalar_one_or_none()
    if order is not None and order.request_hash != request_hash:
        raise IdempotencyConflict(key)
    return order


#: ``app.extensions`` key of the reads domains above orders add to the order's one read
READS = "mallow.orders.checkout_reads"


@dataclass(frozen=True)
class CheckoutRead:
    """A fact of a domain above orders that its pricing hooks need of the shopper, read by the
    order's one read statement (:func:`_read`) instead of a statement of its own: ``columns(
    customer_id)`` gives scalar subqueries of the shopper's id (a bound parameter), and
    ``value(values)`` makes of what they answered the value :func:`place_order` leaves on the
    pricing context under ``key`` (``context.__dict__[key]``) for the domain's hooks. ``create_app``
    registers them (:func:`register_read`); with none, the read is what it always was."""

    key: str
    columns: Callable[[sa.ColumnElement], list[sa.ColumnElement]]
    value: Callable[[tuple], object]


def register_read(app, read: CheckoutRead) -> None:
    """Add ``read`` to the app's order read (once per key)."""
    reads = app.extensions.setdefault(READS, ())
    if any(known.key == read.key for known in reads):
        raise ValueError(f"checkout read {read.key!r} is registered already")
    app.extensions[READS] = (*reads, read)


@functools.cache
def _reads_query(postgres: bool = False, reads: tuple[CheckoutRead, ...] = ()) -> sa.Select:
    """Everything the order reads before it writes, in one statement of plain columns (no ORM
    objects to build for rows nobody keeps): the delivery address (or NULLs), the id and request
    digest of the order already placed under the request's Idempotency-Key (or NULLs), and every
    wanted SKU with its product (the columns of :func:`_sellable_query`) — one row per SKU found,
    or one row of NULL SKU columns when none is. On PostgreSQL the SKU ids are one array
    parameter (``= ANY``): the SQL text is the same for any number of lines (one prepared
    statement), and it is sent as text compiled once (:func:`mallow.db.sqltext.rows`)."""
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    addresses_table = Address.__table__
    sellable = _sellable_query()
    shopper = sa.bindparam("customer_id", type_=sa.Integer)
    return (
        sa.select(
            *addresses_table.columns,
            Order.__table__.c.id,
            Order.__table__.c.request_hash,
            *sellable.selected_columns,
            *(column for read in reads for column in read.columns(shopper)),
        )
        .select_from(one)
        .outerjoin(addresses_table, addresses_table.c.id == sa.bindparam("address_id", type_=sa.Integer))
        .outerjoin(
            Order.__table__,
            sa.and_(
                Order.__table__.c.customer_id == shopper,
                Order.__table__.c.idempotency_key == sa.bindparam("key", type_=sa.String),
            ),
        )
        .outerjoin(
            sa.join(Sku.__table__, Product.__table__, Product.__table__.c.id == Sku.__table__.c.product_id),
            Sku.__table__.c.id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.Integer)))
            if postgres
            else Sku.__table__.c.id.in_(sa.bindparam("ids", expanding=True)),
        )
    )


@functools.cache
def _widths(reads: tuple[CheckoutRead, ...]) -> tuple[int, ...]:
    """How many columns each registered read adds to the order's read."""
    return tuple(len(read.columns(sa.bindparam("customer_id", type_=sa.Integer))) for read in reads)


def _read(
    customer_id: int, address_id: int | None, key: str | None, request_hash: str, sku_ids: list[int]
) -> tuple[sa.Connection, Address | None, int | None, dict[int, tuple], dict[str, object]]:
    """``(the store's connection of the session's transaction, address, id of the order placed
    with this key, {sku_id: row as _sellable reads it}, {key: value} of the registered reads)``
    in one statement; :class:`IdempotencyConflict` when that order came from another request.
    The address is the shopper's row as written (not in the session: nothing changes it)."""
    valid = [sku_id for sku_id in sku_ids if id_value(sku_id) is not None]
    params = {"address_id": address_id or 0, "customer_id": customer_id, "key": key, "ids": valid or [0]}
    connection = db.session.connection(bind_arguments={"clause": Address.__table__})
    reads: tuple[CheckoutRead, ...] = current_app.extensions.get(READS, ())
    rows = sqltext.rows(connection, _reads_query(connection.dialect.name == "postgresql", reads), params)
    width = len(Address.__table__.columns)
    end = width + 2 + len(_sellable_query().selected_columns)  # the registered reads' columns follow
    first = rows[0]
    facts: dict[str, object] = {}
    at = end
    for read, count in zip(reads, _widths(reads), strict=True):
        facts[read.key] = read.value(tuple(first[at : at + count]))
        at += count
    address = None
    if first[0] is not None:
        address = _persistent(Address, dict(zip(Address.__table__.columns.keys(), first[:width], strict=True)))
    existing_id, existing_hash = first[width], first[width + 1]
    if existing_id is not None and existing_hash != request_hash:
        raise IdempotencyConflict(key)
    found = {row[width + 2]: tuple(row[width + 2 : end]) for row in rows if row[width + 2] is not None}
    return connection, address, existing_id, found, facts


def _order_number() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"


def refuse_unless_taking_orders() -> None:
    """The one gate of every new order (storefront, API, plugins): only an open store takes
    one; a closing, suspended or closed store refuses with a ``store`` field saying why. Payments
    of orders already placed go on (their notifications are not orders)."""
    store = current_store()
    if store is None or store.is_open:
        return
    if store.status == "closing":
        message = _("This store is closing and takes no new orders. Orders already placed are still handled.")
    elif store.status == "suspended":
        message = _("This store is closed for the moment and takes no orders.")
    elif store.status == "pending":
        message = _("This store is not open yet.")
    else:
        message = _("This store is closed and takes no orders.")
    raise ValidationFailed({"store": ("not_taking_orders", message)})


def place_order(
    customer, raw_items, address_id, note: str = "", idempotency_key: str | None = None, options: dict | None = None
) -> tuple[Order, bool]:
    """Place an order; returns ``(order, created)``. Raises ValidationFailed, CheckoutProblems,
    SoldOut or IdempotencyConflict with nothing written."""
    refuse_unless_taking_orders()
    note = (note or "").strip()[:200]
    key = (idempotency_key or "").strip()[:80] or None
    items = _items(raw_items)
    request_hash = _request_hash(items, address_id, note, options)
    # the address, an order placed with this key already, and every SKU: one statement
    connection, address, existing_id, found, facts = _read(
        customer.id, id_value(address_id), key, request_hash, [s for s, _q in items]
    )
    if existing_id is not None:
        return db.session.get(Order, existing_id), False
    if address is None or address.customer_id != customer.id:
        raise ValidationFailed({"address_id": ("invalid", _("Choose a delivery address."))})
    context = build_context(customer.id, raw_items, address.province, options, found)
    context.__dict__.update(facts)  # what the domains above read with the order (register_read)
    priced = pipeline.price(context)
    if priced.problems:
        raise CheckoutProblems(priced.problems)

    values = _order_values(customer, priced, address, note, key, request_hash, context.pay_by)
    if connection.closed:  # a pricing hook ended the session's transaction: write on the next one's connection
        connection = db.session.connection(bind_arguments={"clause": Order.__table__})
    quantities = [(line.sku_id, line.quantity) for line in context.lines]
    take = False  # PostgreSQL: the stock is taken by the last statement, with the COMMIT
    try:
        if connection.dialect.name == "postgresql":  # stores are on the platform's backend
            order, take, left = _place(connection, values, priced, customer, context), True, {}
        else:
            order = _insert(connection, values, priced, customer)
            left = stock.reserve(quantities, order.id)
            short = next((line for line in context.lines if line.sku_id not in left), None)
            if short is not None:
                raise SoldOut(short.sku_id, short.title)
        failed: list = []  # a plugin that raises (not SoldOut/CheckoutProblems) refuses with a clear problem
        call_hook(
            hooks().mallow_order_placed,
            plugin_failed(failed),
            None,
            (SoldOut, CheckoutProblems),
            order=order,
            context=context,
        )
        if failed:
            raise CheckoutProblems(failed)
        threshold = int(settings.get("low_stock_threshold"))
        left = _commit_keeping(order, quantities if take else None) or left
        low = sorted(sku_id for sku_id, units in left.items() if units < threshold)
    except IntegrityError as error:
        db.session.rollback()
        if take and stock.is_short_line_refusal(error):  # a line's units went meanwhile: nothing was kept
            sku_id = stock.short_line(quantities)
            raise SoldOut(sku_id, next(line.title for line in context.lines if line.sku_id == sku_id)) from None
        if key:  # the same key won a race a moment ago: answer with that order
            existing = _replay(customer.id, key, request_hash)
            if existing is not None:
                return existing, False
        raise
    except BaseException:
        db.session.rollback()
        raise
    # After the commit the order is the shopper's: what follows must not fail it (queuing never
    # raises; a lost job only delays the notice, see inventory.alerts).
    alerts.queue_notices(context.store_id, low)
    return order, True


def _commit_keeping(order: Order, take: list[tuple[int, int]] | None = None) -> dict[int, int] | None:
    """Commit, keeping the new order with its lines, adjustments and timeline loaded: they hold
    exactly what was just written (through the ORM, plugins' changes included), so the answer
    that shows the order needs no SELECT after the commit (four round trips). Everything else
    in the session is expired, as a commit does, but the active store's row kept from memory, as
    after any commit (:mod:`mallow.tenants.snapshots`).

    ``take`` (PostgreSQL): the lines' ``(sku id, quantity)``, taken from stock by the
    transaction's last statement, sent in the ``COMMIT``'s round trip
    (:func:`mallow.inventory.stock.last_taking_statement`): the SKUs' rows, which every order
    of a best seller updates, are locked only for the server's time, not across the plugins'
    hooks and SQLAlchemy's commit (a lock convoy under load). Returns ``{sku id: stock left}``;
    a line that could not be taken fails the commit (an ``IntegrityError``, nothing kept)."""
    session = db.session()
    keep = {id(row) for row in (order, *order.lines, *order.adjustments, *order.events)}
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    left = None
    try:
        if take is None:
            session.commit()
        else:
            params = {
                "t_sku": [sku_id for sku_id, _quantity in take],
                "t_quantity": [quantity for _sku_id, quantity in take],
                "t_order": order.id,
                "t_at": order.created_at,
            }

            def taken(rows: list) -> None:  # before the session's after_commit listeners
                stock.taken_for_order(dict(rows), len(take))

            connection = session.connection(bind_arguments={"clause": Order.__table__})
            left = dict(with_commit.commit_with(session, connection, stock.last_taking_statement(), params, taken))
    finally:
        session.expire_on_commit = expire_on_commit
    others = [row for row in session.identity_map.values() if id(row) not in keep]
    for row in others:
        session.expire(row)
    if others:  # the active store's row as read, if it was among them (no ``stores`` query after an order)
        snapshots.restore_row(session)
    return left


def _order_values(
    customer, priced: PricedOrder, address: Address, note: str, key, request_hash: str, pay_by: datetime | None
) -> dict:
    """The order's row. Its payment deadline is the store's window, or sooner when a pricing hook
    asked (:meth:`~mallow.pricing.model.PricingContext.pay_within`: a sale's short window,
    written with the order, not changed after it)."""
    now = datetime.now(UTC)
    deadline = now + timedelta(minutes=int(settings.get("unpaid_order_minutes")))
    return {
        "number": _order_number(),
        "customer_id": customer.id,
        "status": "pending_payment",
        "items_total": priced.items_total,
        "total": priced.total,
        "address_cipher": addresses.snapshot_cipher(address),
        "province": address.province,
        "note": note,
        "idempotency_key": key,
        "request_hash": request_hash,
        "created_at": now,
        "pay_deadline": deadline if pay_by is None else min(deadline, pay_by),
    }


def _written(column: sa.Column) -> bool:
    """Whether Mallow writes the column's value (not the id, nor one only the database fills)."""
    return not column.primary_key and (column.default is not None or column.server_default is None)


def _full_row(table: sa.Table, values: dict) -> dict:
    """``values`` with every other written column at its default (None without one): the row as
    written, so the ORM object made from it has nothing left to load (a column only the database
    fills would be loaded on first use)."""
    row = dict(values)
    for key, default in _written_defaults(table):
        if key in row:
            continue
        if default is None:
            row[key] = None
        elif default.is_scalar:
            row[key] = default.arg
        else:  # a callable (utcnow, dict): SQLAlchemy's wrapper takes the execution context
            row[key] = default.arg(None)
    return row


@functools.cache
def _written_defaults(table: sa.Table) -> tuple[tuple[str, sa.ColumnDefault | None], ...]:
    """``(key, default)`` of each column Mallow writes, in the table's order (worked out once)."""
    return tuple((column.key, column.default) for column in table.columns if _written(column))


@functools.cache
def _insert_one(table: sa.Table) -> sa.Insert:
    return sa.insert(table).returning(table.c.id)


@functools.cache
def _insert_many(table: sa.Table) -> sa.Insert:
    return sa.insert(table)


@functools.cache
def _shape(model: type) -> tuple:
    """``(class manager, identity class, column attribute keys)`` of a model, worked out once:
    what :func:`_persistent` needs to make an instance without calling ``__init__``."""
    mapper = sa.inspect(model)
    if len(mapper.primary_key) != 1 or mapper.primary_key[0].key != "id":
        raise TypeError(f"{model.__name__}: _persistent expects a single primary key ``id``")
    return mapper.class_manager, mapper._identity_class, frozenset(prop.key for prop in mapper.column_attrs)


def _persistent(model: type, row: dict):
    """The ORM object of a row just written by a Core INSERT, made as a query loads one: the
    values go straight into its state (no attribute events: they are loaded values, not
    changes), then it is marked as having its identity (clean: no flush writes it again).

    What :func:`sqlalchemy.orm.make_transient_to_detached` does for a fresh instance, without
    its generic walk (the identity key read through the mapper, every attribute's history
    committed, the set of unloaded attributes worked out over relationships too): the key is
    ``(class, (id,), None)``, a new state has no history to commit, and a column the row does not
    hold is expired (loaded on first use) as there; relationships are left unloaded, as there
    (they load on first use). About 5 µs less per object, six objects per order."""
    manager, identity_class, columns = _shape(model)
    instance = manager.new_instance()
    instance.__dict__.update(row)
    state = instance_state(instance)
    state.key = (identity_class, (row["id"],), None)
    missing = columns.difference(row)
    if missing:
        state._expire_attributes(state.dict, missing)
    return instance


def _insert(connection: sa.Connection, values: dict, priced: PricedOrder, customer) -> Order:
    """SQLite: write the order, its first timeline entry, its lines and adjustments: one INSERT
    per table however many lines (Core statements built once, executemany for the lines and the
    adjustments), then the ORM objects made from the rows as written (:func:`_attach`). A flush
    of the same rows costs several times the Python time (unit of work, attribute events, per-row
    bookkeeping) and a round trip more. (PostgreSQL writes all of it and the stock in one
    statement: :func:`_place`.)"""
    order_table, line_table = Order.__table__, OrderLine.__table__
    adjustment_table, event_table = OrderAdjustment.__table__, OrderEvent.__table__
    order_row = _full_row(order_table, values)
    detail = {"total": order_row["total"], "items": len(priced.lines)}
    event_row = _full_row(event_table, {"kind": "placed", "actor": f"shopper:{customer.id}", "detail": detail})
    for _attempt in range(5):  # ON CONFLICT (number) DO NOTHING: a clash of the random number, try another
        order_row["id"] = connection.execute(_insert_order_on_sqlite(), order_row).scalar_one_or_none()
        if order_row["id"] is not None:
            break
        order_row["number"] = _order_number()
    else:
        raise IntegrityError("INSERT INTO orders", None, Exception("no free order number"))
    event_row["order_id"] = order_row["id"]
    event_row["id"] = connection.execute(_insert_one(event_table), event_row).scalar_one()

    line_rows = [_line_row(order_row["id"], priced_line) for priced_line in priced.lines]
    adjustment_rows = [
        _adjustment_row(order_row["id"], adjustment, position)
        for position, priced_line in enumerate(priced.lines)
        for adjustment in priced_line.adjustments
    ]
    adjustment_rows.extend(_adjustment_row(order_row["id"], adjustment, None) for adjustment in priced.adjustments)
    positions = [row.pop("line") for row in adjustment_rows]
    _number_on_sqlite(connection, line_rows, adjustment_rows)
    connection.execute(_insert_many(line_table), line_rows)
    for row, position in zip(adjustment_rows, positions, strict=True):  # the lines' ids are known now
        row["line_id"] = line_rows[position]["id"] if position is not None else None
    if adjustment_rows:
        connection.execute(_insert_many(adjustment_table), adjustment_rows)
    return _attach(order_row, event_row, line_rows, adjustment_rows, positions)


@functools.cache
def _insert_order_on_sqlite() -> sa.Insert:
    orders = Order.__table__
    return sqlite.insert(orders).on_conflict_do_nothing(index_elements=[orders.c.number]).returning(orders.c.id)


def _attach(order_row: dict, event_row: dict, line_rows: list, adjustment_rows: list, positions: list) -> Order:
    """The ORM objects of an order just written (``positions``: each adjustment's line, by its
    place in ``line_rows``, or None), in the session clean: plugins' hooks and the answer see
    them loaded, and a change a plugin makes to them is flushed as usual. Each is put in the
    session's identity map as a query puts what it loads there (no attach events, no walk of the
    save-update cascade over every relationship of every object: ``session.add(order)`` cost
    about 0.3 M instructions of an order's 5.4 M for the six objects of a 3-line order)."""
    lines = [_persistent(OrderLine, row) for row in line_rows]
    adjustments = []
    for row, position in zip(adjustment_rows, positions, strict=True):
        adjustment = _persistent(OrderAdjustment, row)
        # the relationship loaded too: reading ``adjustment.line`` costs no SELECT
        set_committed_value(adjustment, "line", lines[position] if position is not None else None)
        adjustments.append(adjustment)
    order = _persistent(Order, order_row)
    set_committed_value(order, "lines", lines)
    set_committed_value(order, "adjustments", adjustments)
    event = _persistent(OrderEvent, event_row)
    set_committed_value(order, "events", [event])
    session = db.session()  # in the transaction the order was written in
    identity_map, session_id = session.identity_map, session.hash_key
    for instance in (order, *lines, *adjustments, event):
        state = instance_state(instance)
        state.session_id = session_id
        identity_map.add(state)  # a new row's identity: nothing else in the map has it
    return order


def _line_row(order_id, priced_line) -> dict:
    line = priced_line.line
    return {
        "order_id": order_id,
        "sku_id": line.sku_id,
        "product_id": line.product_id,
        "title": line.title,
        "spec_key": line.spec_key,
        "unit_price": line.unit_price,
        "quantity": line.quantity,
        "total": priced_line.total,
    }


#: the lines' columns sent as arrays to the placement statement (``l_<column>``)
_LINE_ARRAYS = ("sku_id", "product_id", "title", "spec_key", "unit_price", "quantity", "total")
#: the adjustments' columns sent as arrays (``a_<column>``; ``line_sku``: the SKU of its line)
_ADJUSTMENT_ARRAYS = ("line_sku", "stage", "source", "code", "label", "amount")


def _place(connection: sa.Connection, values: dict, priced: PricedOrder, customer, context: PricingContext) -> Order:
    """PostgreSQL: write the order in ONE statement (:func:`_placement_statement`): the order, its
    first timeline entry, its lines and its adjustments; the order. Its stock is taken at the
    commit (:func:`_commit_keeping`). The ORM objects are made from the rows as written, as
    :func:`_insert` does. A clash of the random order number (``ON CONFLICT (number) DO NOTHING``: then the
    statement wrote nothing at all) is tried again with another number."""
    order_table, event_table = Order.__table__, OrderEvent.__table__
    order_row = _full_row(order_table, values)
    detail = {"total": order_row["total"], "items": len(priced.lines)}
    event_row = _full_row(event_table, {"kind": "placed", "actor": f"shopper:{customer.id}", "detail": detail})
    line_rows = [_line_row(None, priced_line) for priced_line in priced.lines]
    adjustment_rows = [
        _adjustment_row(None, adjustment, position)
        for position, priced_line in enumerate(priced.lines)
        for adjustment in priced_line.adjustments
    ]
    adjustment_rows.extend(_adjustment_row(None, adjustment, None) for adjustment in priced.adjustments)
    positions = [row.pop("line") for row in adjustment_rows]
    event_row["at"] = order_row["created_at"]  # as the statement writes it
    params = {f"e_{key}": value for key, value in event_row.items()}
    for column in _LINE_ARRAYS:
        params[f"l_{column}"] = [row[column] for row in line_rows]
    params["a_line_sku"] = [line_rows[position]["sku_id"] if position is not None else None for position in positions]
    for column in _ADJUSTMENT_ARRAYS[1:]:
        params[f"a_{column}"] = [row[column] for row in adjustment_rows]
    # the order's columns with a value (the others are NULL either way): a shorter statement
    defaulted = (key for key, default in _written_defaults(order_table) if default is not None and key not in values)
    statement = _placement_statement((*values, *defaulted))
    for _attempt in range(5):
        params.update({f"o_{key}": value for key, value in order_row.items()})
        [(order_id, event_id, line_ids, adjustment_ids)] = sqltext.rows(connection, statement, params)
        if order_id is not None:
            break
        order_row["number"] = _order_number()  # taken a moment ago by another order: another one
    else:
        raise IntegrityError("INSERT INTO orders", None, Exception("no free order number"))
    order_row["id"] = event_row["order_id"] = order_id
    event_row["id"] = event_id
    for row, line_id in zip(sorted(line_rows, key=_sku_of), line_ids or (), strict=True):  # both in SKU order
        row["order_id"], row["id"] = order_id, line_id
    # the adjustments were inserted in the order sent, so their ids ascend in that order
    for row, adjustment_id, position in zip(adjustment_rows, adjustment_ids or (), positions, strict=True):
        row["order_id"], row["id"] = order_id, adjustment_id
        row["line_id"] = line_rows[position]["id"] if position is not None else None
    return _attach(order_row, event_row, line_rows, adjustment_rows, positions)


def _bind_type(column: sa.Column) -> sa.types.TypeEngine:
    """A string column's parameter goes without the ``::VARCHAR`` cast (the INSERT's column types
    it): the placement statement must stay under psycopg's 4,096-character limit of the SQL it
    keeps converted (above it, every execution parses the SQL again)."""
    return _PLAIN if isinstance(column.type, sa.String) else column.type


class _Plain(sa.types.UserDefinedType):
    """A string parameter without a cast (the column it goes into gives it its type)."""

    cache_ok = True

    def get_col_spec(self, **_kw) -> str:
        return "TEXT"


_PLAIN = _Plain()


def _sku_of(row: dict) -> int:
    return row["sku_id"]


@functools.cache
def _placement_statement(order_keys: tuple[str, ...]) -> sa.Select:
    """PostgreSQL: the order placed in one statement, built once (the lines and adjustments are
    arrays, ``unnest``-ed: the SQL is the same for any number of lines, so psycopg prepares it).
    Data-modifying CTEs, each run once whatever reads it:

    * ``given``: the lines (``l_<column>`` arrays); ``placed``: the order's ``INSERT … ON CONFLICT
      (number) DO NOTHING RETURNING id``;
    * ``event``: the first timeline entry; ``lines``: the lines, ``INSERT … SELECT`` from
      ``given`` and ``placed``; ``adjustments``: from the ``a_<column>`` arrays, each joined to its
      line's new id by the line's SKU (an order's SKUs are distinct).

    The answer is one row: the order's id (NULL: its number was taken, nothing was written), the
    entry's id, the lines' ids in SKU order and the adjustments' ids ascending (they were inserted
    in the order sent, ``ORDER BY`` their position). The stock is not taken here but by the
    transaction's last statement, sent with its ``COMMIT`` (:func:`_commit_keeping`).
    The SQL stays under psycopg's 4,096 characters, above which it is parsed again on every
    execution (short aliases, no casts on strings): ``tests/orders/test_placement_statements.py``."""
    orders, events = Order.__table__, OrderEvent.__table__
    line_table, adjustment_table = OrderLine.__table__, OrderAdjustment.__table__

    def arrays(prefix: str, columns: list[tuple[str, sa.types.TypeEngine]], name: str) -> sa.CTE:
        unnested = (
            sa.func.unnest(*(sa.bindparam(f"{prefix}_{key}", type_=sa.ARRAY(kind)) for key, kind in columns))
            .table_valued(*(sa.column(key, kind) for key, kind in columns), with_ordinality="n")
            .render_derived(name=name[0])  # short: the statement stays under psycopg's 4 kB cache limit
        )
        return sa.select(*unnested.c).cte(name)

    given = arrays("l", [(key, line_table.c[key].type) for key in _LINE_ARRAYS], "given")
    order_columns = [orders.c[key] for key in order_keys]
    placed = (
        postgresql.insert(orders)
        .values({c.key: sa.bindparam(f"o_{c.key}", type_=_bind_type(c)) for c in order_columns})
        .on_conflict_do_nothing(index_elements=[orders.c.number])
        .returning(orders.c.id, orders.c.created_at)
        .cte("placed")
    )
    event_columns = [c for c in events.columns if _written(c) and c.key not in ("order_id", "at")]
    event = (
        sa.insert(events)
        .from_select(
            ["order_id", "at", *(c.key for c in event_columns)],
            sa.select(
                placed.c.id,
                placed.c.created_at,
                *(sa.bindparam(f"e_{c.key}", type_=_bind_type(c)) for c in event_columns),
            ),
        )
        .returning(events.c.id)
        .cte("event")
    )
    lines = (
        sa.insert(line_table)
        .from_select(
            ["order_id", *_LINE_ARRAYS],
            sa.select(placed.c.id, *(given.c[key] for key in _LINE_ARRAYS))
            .select_from(given.join(placed, sa.true()))
            .order_by(given.c.n),
        )
        .returning(line_table.c.id, line_table.c.sku_id)
        .cte("lines")
    )
    adjusting = arrays(
        "a",
        [("line_sku", sa.Integer()), *((key, adjustment_table.c[key].type) for key in _ADJUSTMENT_ARRAYS[1:])],
        "adjusting",
    )
    adjustments = (
        sa.insert(adjustment_table)
        .from_select(
            ["order_id", "line_id", *_ADJUSTMENT_ARRAYS[1:]],
            sa.select(placed.c.id, lines.c.id, *(adjusting.c[key] for key in _ADJUSTMENT_ARRAYS[1:]))
            .select_from(adjusting.join(placed, sa.true()).outerjoin(lines, lines.c.sku_id == adjusting.c.line_sku))
            .order_by(adjusting.c.n),
        )
        .returning(adjustment_table.c.id)
        .cte("adjustments")
    )

    def ids(column, order_by) -> sa.ScalarSelect:
        return sa.select(sa.func.array_agg(postgresql.aggregate_order_by(column, order_by))).scalar_subquery()

    return sa.select(
        sa.select(placed.c.id).scalar_subquery(),
        sa.select(event.c.id).scalar_subquery(),
        ids(lines.c.id, lines.c.sku_id),
        ids(adjustments.c.id, adjustments.c.id),
    )


def _number_on_sqlite(connection: sa.Connection, lines: list[dict], adjustments: list[dict]) -> None:
    """Give new lines and adjustments their ids on SQLite, which cannot say which row of a batched
    ``INSERT … RETURNING`` is which (SQLAlchemy would insert them one by one to learn their ids).
    Safe: the order's INSERT took the store file's write lock, so no one else adds rows until
    the commit."""
    last_line, last_adjustment = connection.execute(_last_ids_query()).one()
    for number, line in enumerate(lines, start=last_line + 1):
        line["id"] = number
    for number, adjustment in enumerate(adjustments, start=last_adjustment + 1):
        adjustment["id"] = number


@functools.cache
def _last_ids_query() -> sa.Select:
    lines, adjustments = OrderLine.__table__, OrderAdjustment.__table__
    return sa.select(
        sa.select(sa.func.coalesce(sa.func.max(lines.c.id), 0)).scalar_subquery(),
        sa.select(sa.func.coalesce(sa.func.max(adjustments.c.id), 0)).scalar_subquery(),
    )


def _adjustment_row(order_id: int, adjustment, line: int | None) -> dict:
    """An adjustment's row; ``line`` is the position of its line (None: the whole order) until
    the line's id is known."""
    return {
        "order_id": order_id,
        "line": line,
        "stage": adjustment.stage,
        "source": adjustment.source,
        "code": adjustment.code,
        "label": str(adjustment.label)[:120],
        "amount": adjustment.amount,
    }


def sku_stock(sku_id: int) -> int:
    return db.session.execute(sa.select(Sku.stock).where(Sku.id == sku_id)).scalar_one()
