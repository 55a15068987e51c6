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
from mallow.cart.service import sellable_sku
from mallow.catalog.models import Product, Sku
from mallow.db import db
from mallow.inventory import alerts, stock
from mallow.orders import addresses
from mallow.orders.models import Address, Order, OrderAdjustment, OrderEvent, OrderLine
from mallow.plugins.faults import call_hook
from mallow.plugins.manager import hooks
from mallow.pricing import pipeline
from mallow.pricing.model import PricedOrder, PricingContext, PricingLine, plugin_failed
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


def build_context(
    customer_id: int | None, raw_items, province: str | None, options: dict | None = None
) -> PricingContext:
    lines = []
    for index, (sku_id, quantity) in enumerate(_items(raw_items)):
        sku = sellable_sku(sku_id)
        product = db.session.get(Product, sku.product_id)
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

    now = datetime.now(UTC)
    order = Order(
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
        pay_deadline=now + timedelta(minutes=int(settings.get("unpaid_order_minutes"))),
    )
    try:
        db.session.add(order)
        db.session.flush()
        for priced_line in priced.lines:
            line = priced_line.line
            if not stock.reserve(line.sku_id, line.quantity, order.id):
                raise SoldOut(line.sku_id, line.title)
            row = OrderLine(
                order_id=order.id,
                sku_id=line.sku_id,
                product_id=line.product_id,
                title=line.title,
                spec_key=line.spec_key,
                unit_price=line.unit_price,
                quantity=line.quantity,
                total=priced_line.total,
            )
            order.lines.append(row)
            db.session.flush()
            for adjustment in priced_line.adjustments:
                order.adjustments.append(_adjustment_row(adjustment, row.id))
        for adjustment in priced.adjustments:
            order.adjustments.append(_adjustment_row(adjustment, None))
        order.events.append(
            OrderEvent(
                kind="placed", actor=f"shopper:{customer.id}", detail={"total": order.total, "items": len(priced.lines)}
            )
        )
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
        low = alerts.low_after_reserve([line.sku_id for line in context.lines])
        db.session.commit()
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


def _adjustment_row(adjustment, line_id) -> OrderAdjustment:
    return OrderAdjustment(
        line_id=line_id,
        stage=adjustment.stage,
        source=adjustment.source,
        code=adjustment.code,
        label=str(adjustment.label)[:120],
        amount=adjustment.amount,
    )


def sku_stock(sku_id: int) -> int:
    return db.session.execute(sa.select(Sku.stock).where(Sku.id == sku_id)).scalar_one()
