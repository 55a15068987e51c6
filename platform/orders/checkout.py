"""Turning a cart (or a list of SKUs) into an order: price, validate, reserve stock, write —
all in one transaction, or nothing.

``Idempotency-Key`` (per shopper): the first result is stored on the order and returned again
for repeats; the same key with a different request is refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

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


def _sellable(sku_ids: list[int]) -> dict[int, tuple[Sku, Product]]:
    """Each SKU with its product, if a shopper may buy it now, else the field error of
    :func:`mallow.cart.service.sellable_sku` for the first that may not (same rule, same
    messages), in one query for every line instead of two per line."""
    valid = [sku_id for sku_id in sku_ids if id_value(sku_id) is not None]
    found = {
        sku.id: (sku, product)
        for sku, product in db.session.execute(
            sa.select(Sku, Product).join(Product, Product.id == Sku.product_id).where(Sku.id.in_(valid))
        )
    }
    for position, sku_id in enumerate(sku_ids):
        if id_value(sku_id) is None:
            raise ValidationFailed({"sku_id": ("invalid", _("Choose a product option."))})
        sku, product = found.get(sku_id, (None, None))
        if sku is None or not sku.active or product.status != "on_shelf":
            raise ValidationFailed({"sku_id": ("unavailable", _("This product is not for sale."))})
        if position == 0:  # a permit the store needs lapsed: nothing is for sale (asked once)
            selling.refuse_purchase()
    return found


def build_context(
    customer_id: int | None, raw_items, province: str | None, options: dict | None = None
) -> PricingContext:
    items = _items(raw_items)
    found = _sellable([sku_id for sku_id, _quantity in items])
    lines = []
    for index, (sku_id, quantity) in enumerate(items):
        sku, product = found[sku_id]
        lines.append(
            PricingLine(
                index,
                sku.id,
                product.id,
                product.title,
                sku.spec_key,
                sku.price,
                quantity,
                sku.weight_g,
                product.shipping_template_id,
            )
        )
    return PricingContext(
        store_id=current_store().id,
        customer_id=customer_id,
        lines=lines,
        province=province,
        options=dict(options or {}),
    )


def quote(customer_id: int | None, raw_items, province: str | None = None, options: dict | None = None) -> PricedOrder:
    return pipeline.price(build_context(customer_id, raw_items, province, options))


def _request_hash(raw_items, address_id, note, options) -> str:
    body = json.dumps(
        {"items": _items(raw_items), "address_id": address_id, "note": note, "options": options or {}},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(customer_id: int, key: str, request_hash: str) -> Order | None:
    order = db.session.execute(
        sa.select(Order).where(Order.customer_id == customer_id, Order.idempotency_key == key)
    ).scalar_one_or_none()
    if order is not None and order.request_hash != request_hash:
        raise IdempotencyConflict(key)
    return order


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
    if key:
        existing = _replay(customer.id, key, request_hash)
        if existing is not None:
            return existing, False

    address = db.session.get(Address, id_value(address_id)) if id_value(address_id) else None
    if address is None or address.customer_id != customer.id:
        raise ValidationFailed({"address_id": ("invalid", _("Choose a delivery address."))})
    context = build_context(customer.id, raw_items, address.province, options)
    priced = pipeline.price(context)
    if priced.problems:
        raise CheckoutProblems(priced.problems)

    order = _new_order(customer, priced, address, note, key, request_hash)
    try:
        _insert(order, priced, customer)
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


def _new_order(customer, priced: PricedOrder, address: Address, note: str, key, request_hash: str) -> Order:
    return Order(
        number=_order_number(),
        customer_id=customer.id,
        status="pending_payment",
        items_total=priced.items_total,
        total=priced.total,
        address_cipher=addresses.snapshot_cipher(address),
        province=address.province,
        note=note,
        idempotency_key=key,
        request_hash=request_hash,
        pay_deadline=datetime.now(UTC) + timedelta(minutes=int(settings.get("unpaid_order_minutes"))),
        lines=[],  # empty from the start: adding to them never lazy-loads them
        adjustments=[],
        events=[],
    )


def _insert(order: Order, priced: PricedOrder, customer) -> None:
    """Write the order, then its lines, adjustments and first timeline entry: one INSERT per
    table, however many lines (the ORM batches the rows of a table into one statement)."""
    db.session.add(order)
    db.session.flush()
    lines, adjustments = [], []
    for priced_line in priced.lines:
        line = priced_line.line
        row = OrderLine(
            sku_id=line.sku_id,
            product_id=line.product_id,
            title=line.title,
            spec_key=line.spec_key,
            unit_price=line.unit_price,
            quantity=line.quantity,
            total=priced_line.total,
        )
        lines.append(row)
        adjustments.extend(_adjustment_row(adjustment, row) for adjustment in priced_line.adjustments)
    adjustments.extend(_adjustment_row(adjustment, None) for adjustment in priced.adjustments)
    if db.engine.dialect.name == "sqlite":  # stores are on the platform's backend
        _number_on_sqlite(lines, adjustments)
    order.lines.extend(lines)
    order.adjustments.extend(adjustments)
    order.events.append(
        OrderEvent(kind="placed", actor=f"shopper:{customer.id}", detail={"total": order.total, "items": len(lines)})
    )
    db.session.flush()


def _number_on_sqlite(lines: list[OrderLine], adjustments: list[OrderAdjustment]) -> None:
    """Give new lines and adjustments their ids on SQLite, which cannot say which row of a batched
    ``INSERT … RETURNING`` is which (SQLAlchemy would insert them one by one to learn their ids).
    Safe: the order's INSERT took the store file's write lock, so no one else adds rows until
    the commit."""
    last_line, last_adjustment = db.session.execute(
        sa.select(
            sa.select(sa.func.coalesce(sa.func.max(OrderLine.id), 0)).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.max(OrderAdjustment.id), 0)).scalar_subquery(),
        )
    ).one()
    for number, line in enumerate(lines, start=last_line + 1):
        line.id = number
    for number, adjustment in enumerate(adjustments, start=last_adjustment + 1):
        adjustment.id = number


def _adjustment_row(adjustment, line: OrderLine | None) -> OrderAdjustment:
    return OrderAdjustment(
        line=line,
        stage=adjustment.stage,
        source=adjustment.source,
        code=adjustment.code,
        label=str(adjustment.label)[:120],
        amount=adjustment.amount,
    )


def sku_stock(sku_id: int) -> int:
    return db.session.execute(sa.select(Sku.stock).where(Sku.id == sku_id)).scalar_one()
