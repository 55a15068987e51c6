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
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from mallow import settings
from mallow.catalog.models import Product, Sku
from mallow.db import db
from mallow.inventory import alerts, stock
from mallow.orders import addresses
from mallow.orders.models import Address, Order, OrderAdjustment, OrderEvent, OrderLine
from mallow.plugins.faults import call_hook
from mallow.plugins.manager import hooks
from mallow.pricing import pipeline
from mallow.pricing.model import PricedOrder, PricingContext, PricingLine, plugin_failed
from mallow.qualifications import selling
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


def _request_hash(raw_items, address_id, note, options) -> str:
    body = json.dumps(
        {"items": _items(raw_items), "address_id": address_id, "note": note, "options": options or {}},
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


@functools.cache
def _address_and_replay_query() -> sa.Select:
    """One row whatever is found: the address (or None) beside the order of the key (or None)."""
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    return (
        sa.select(Address, Order)
        .select_from(one)
        .outerjoin(Address, Address.id == sa.bindparam("address_id", type_=sa.Integer))
        .outerjoin(
            Order,
            sa.and_(Order.customer_id == sa.bindparam("customer_id"), Order.idempotency_key == sa.bindparam("key")),
        )
    )


def _address_and_replay(
    customer_id: int, address_id: int | None, key: str, request_hash: str
) -> tuple[Address | None, Order | None]:
    """:func:`_replay` and the delivery address read together (a keyed request reads both)."""
    params = {"address_id": address_id or 0, "customer_id": customer_id, "key": key}
    address, order = db.session.execute(_address_and_replay_query(), params).one()
    if order is not None and order.request_hash != request_hash:
        raise IdempotencyConflict(key)
    return address, order


def _order_number() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"


def place_order(
    customer, raw_items, address_id, note: str = "", idempotency_key: str | None = None, options: dict | None = None
) -> tuple[Order, bool]:
    """Place an order; returns ``(order, created)``. Raises ValidationFailed, CheckoutProblems,
    SoldOut or IdempotencyConflict with nothing written."""
    note = (note or "").strip()[:200]
    key = (idempotency_key or "").strip()[:80] or None
    request_hash = _request_hash(raw_items, address_id, note, options)
    if key:  # the address and an order placed with this key already, in one statement
        address, existing = _address_and_replay(customer.id, id_value(address_id), key, request_hash)
        if existing is not None:
            return existing, False
    else:
        address = db.session.get(Address, id_value(address_id)) if id_value(address_id) else None
    if address is None or address.customer_id != customer.id:
        raise ValidationFailed({"address_id": ("invalid", _("Choose a delivery address."))})
    context = build_context(customer.id, raw_items, address.province, options)
    priced = pipeline.price(context)
    if priced.problems:
        raise CheckoutProblems(priced.problems)

    values = _order_values(customer, priced, address, note, key, request_hash)
    try:
        order = _insert(values, priced, customer)
        quantities = [(line.sku_id, line.quantity) for line in context.lines]
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
        low = sorted(sku_id for sku_id, units in left.items() if units < threshold)
        _commit_keeping(order)
    except IntegrityError:
        db.session.rollback()
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


def _commit_keeping(order: Order) -> None:
    """Commit, keeping the new order with its lines, adjustments and timeline loaded: they hold
    exactly what was just written (through the ORM, plugins' changes included), so the answer
    that shows the order needs no SELECT after the commit (four round trips). Everything else
    in the session is expired, as a commit does."""
    session = db.session()
    keep = {id(row) for row in (order, *order.lines, *order.adjustments, *order.events)}
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire_on_commit
    for row in list(session.identity_map.values()):
        if id(row) not in keep:
            session.expire(row)


def _order_values(customer, priced: PricedOrder, address: Address, note: str, key, request_hash: str) -> dict:
    now = datetime.now(UTC)
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
        "pay_deadline": now + timedelta(minutes=int(settings.get("unpaid_order_minutes"))),
    }


def _written(column: sa.Column) -> bool:
    """Whether Mallow writes the column's value (not the id, nor one only the database fills)."""
    return not column.primary_key and (column.default is not None or column.server_default is None)


def _full_row(table: sa.Table, values: dict) -> dict:
    """``values`` with every other written column at its default (None without one): the row as
    written, so the ORM object made from it has nothing left to load (a column only the database
    fills would be loaded on first use)."""
    row = dict(values)
    for column in table.columns:
        if column.key in row or not _written(column):
            continue
        default = column.default
        if default is None:
            row[column.key] = None
        elif default.is_scalar:
            row[column.key] = default.arg
        else:  # a callable (utcnow, dict): SQLAlchemy's wrapper takes the execution context
            row[column.key] = default.arg(None)
    return row


@functools.cache
def _insert_one(table: sa.Table) -> sa.Insert:
    return sa.insert(table).returning(table.c.id)


@functools.cache
def _insert_many(table: sa.Table, returning: bool) -> sa.Insert:
    statement = sa.insert(table)
    return statement.returning(table.c.id, sort_by_parameter_order=True) if returning else statement


def _persistent(model: type, row: dict):
    """The ORM object of a row just written by a Core INSERT, made as a query loads one: the
    values go straight into its state (no attribute events: they are loaded values, not
    changes), then it is marked as having its identity (clean: no flush writes it again)."""
    instance = sa.inspect(model).class_manager.new_instance()
    instance.__dict__.update(row)
    make_transient_to_detached(instance)
    return instance


def _insert(values: dict, priced: PricedOrder, customer) -> Order:
    """Write the order, its first timeline entry, its lines and adjustments: one INSERT per table
    however many lines (Core statements built once, executemany for the lines and the
    adjustments; on PostgreSQL the order and its timeline entry in one statement), then the ORM
    objects made from the rows as written, added to the session clean: plugins' hooks and the
    answer see them loaded, and a change a plugin makes to them is flushed as usual. A flush of
    the same rows costs several times the Python time (unit of work, attribute events, per-row
    bookkeeping) and a round trip more."""
    session = db.session
    order_table, line_table = Order.__table__, OrderLine.__table__
    adjustment_table, event_table = OrderAdjustment.__table__, OrderEvent.__table__
    # the store's connection of the session's transaction (schema-translated on PostgreSQL):
    # plain Core statements on it, without the ORM's execute machinery around each
    connection = session.connection(bind_arguments={"clause": order_table})
    on_sqlite = connection.dialect.name == "sqlite"
    order_row = _full_row(order_table, values)
    detail = {"total": order_row["total"], "items": len(priced.lines)}
    event_row = _full_row(event_table, {"kind": "placed", "actor": f"shopper:{customer.id}", "detail": detail})
    if on_sqlite:
        order_row["id"] = connection.execute(_insert_one(order_table), order_row).scalar_one()
        event_row["order_id"] = order_row["id"]
        event_row["id"] = connection.execute(_insert_one(event_table), event_row).scalar_one()
    else:
        params = {f"o_{key}": value for key, value in order_row.items()}
        params.update({f"e_{key}": value for key, value in event_row.items()})
        order_row["id"], event_row["id"] = connection.execute(_insert_order_and_event(), params).one()
        event_row["order_id"] = order_row["id"]

    line_rows, adjustment_rows = [], []
    for position, priced_line in enumerate(priced.lines):
        line = priced_line.line
        line_rows.append(
            {
                "order_id": order_row["id"],
                "sku_id": line.sku_id,
                "product_id": line.product_id,
                "title": line.title,
                "spec_key": line.spec_key,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
                "total": priced_line.total,
            }
        )
        adjustment_rows.extend(_adjustment_row(order_row["id"], a, position) for a in priced_line.adjustments)
    adjustment_rows.extend(_adjustment_row(order_row["id"], a, None) for a in priced.adjustments)
    positions = [row.pop("line") for row in adjustment_rows]

    if on_sqlite:
        _number_on_sqlite(connection, line_rows, adjustment_rows)
        connection.execute(_insert_many(line_table, False), line_rows)
    else:
        ids = connection.execute(_insert_many(line_table, True), line_rows).scalars().all()
        for row, line_id in zip(line_rows, ids, strict=True):
            row["id"] = line_id
    for row, position in zip(adjustment_rows, positions, strict=True):  # the lines' ids are known now
        row["line_id"] = line_rows[position]["id"] if position is not None else None
    if adjustment_rows and on_sqlite:
        connection.execute(_insert_many(adjustment_table, False), adjustment_rows)
    elif adjustment_rows:
        ids = connection.execute(_insert_many(adjustment_table, True), adjustment_rows).scalars().all()
        for row, adjustment_id in zip(adjustment_rows, ids, strict=True):
            row["id"] = adjustment_id

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
    set_committed_value(order, "events", [_persistent(OrderEvent, event_row)])
    session.add(order)  # its lines, adjustments and event with it (the save-update cascade)
    return order


@functools.cache
def _insert_order_and_event() -> sa.Insert:
    """PostgreSQL: the order and its first timeline entry in one statement (the order's
    ``INSERT … RETURNING id`` as a data-modifying CTE the entry's ``INSERT … SELECT`` reads);
    answers ``(order id, entry id)``. Parameters: ``o_<column>`` and ``e_<column>``."""
    orders, events = Order.__table__, OrderEvent.__table__
    order_columns = [c for c in orders.columns if _written(c)]
    event_columns = [c for c in events.columns if _written(c) and c.key != "order_id"]
    placed = (
        sa.insert(orders)
        .values({c.key: sa.bindparam(f"o_{c.key}", type_=c.type) for c in order_columns})
        .returning(orders.c.id)
        .cte("placed")
    )
    return (
        sa.insert(events)
        .from_select(
            ["order_id", *(c.key for c in event_columns)],
            sa.select(placed.c.id, *(sa.bindparam(f"e_{c.key}", type_=c.type) for c in event_columns)),
        )
        .returning(events.c.order_id, events.c.id)
        .add_cte(placed)
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
