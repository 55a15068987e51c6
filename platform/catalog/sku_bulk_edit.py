"""The SKU bulk edit: price and/or stock of many SKUs at once, all or nothing.

Stock set here is announced (``stock_adjusted``, :mod:`mallow.catalog.events`) for the stock
ledger, like stock set on the product form.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow import audit
from mallow.catalog import events
from mallow.catalog.field_checks import MAX_STOCK, NUMBER_MESSAGES, PRICE_MESSAGES, whole
from mallow.catalog.models import Sku
from mallow.db import db
from mallow.money import MAX_FEN, fen_to_yuan
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed
from mallow.web.ids import ID_MAX

MAX_BULK = 1000


def bulk_update_skus(items, *, actor=None) -> list[Sku]:
    """Set price and/or stock of many SKUs in one transaction: every item is checked first,
    and one bad item changes nothing. ``items``: ``[{"sku_id": 1, "price": 990, "stock": 5}]``.
    Errors name ``items.<index>.<field>``."""
    errors = Errors()
    if not isinstance(items, list) or not items:
        raise ValidationFailed({"items": ("required", _("Change at least one SKU."))})
    if len(items) > MAX_BULK:
        raise ValidationFailed({"items": ("too_many", _("At most %(max)s SKUs at once.", max=MAX_BULK))})
    wanted: dict[int, dict] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.add(f"items.{i}", "invalid", _("Each item must be an object."))
            continue
        sku_id, code = whole(item.get("sku_id"), minimum=1, maximum=ID_MAX)
        if code:
            errors.add(f"items.{i}.sku_id", "invalid", _("Choose a SKU."))
            continue
        if sku_id in wanted:
            errors.add(f"items.{i}.sku_id", "duplicate", _("This SKU is there twice."))
            continue
        change = {"index": i}
        if item.get("price") is not None:
            price, code = whole(item["price"], minimum=0, maximum=MAX_FEN)
            if code:
                errors.add(f"items.{i}.price", code, PRICE_MESSAGES[code]())
            change["price"] = price
        if item.get("stock") is not None:
            stock, code = whole(item["stock"], minimum=0, maximum=MAX_STOCK)
            if code:
                errors.add(f"items.{i}.stock", code, NUMBER_MESSAGES[code]())
            change["stock"] = stock
        if "price" not in change and "stock" not in change:
            errors.add(f"items.{i}", "empty", _("Give a price or a stock."))
        wanted[sku_id] = change
    errors.raise_if_any()
    try:
        skus = {
            sku.id: sku
            for sku in db.session.execute(
                sa.select(Sku)
                .where(Sku.id.in_(list(wanted)))
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalars()
        }
        for sku_id, change in wanted.items():
            sku = skus.get(sku_id)
            if sku is None:
                errors.add(f"items.{change['index']}.sku_id", "not_found", _("There is no such SKU in this store."))
            elif "price" in change and sku.market_price is not None and change["price"] > sku.market_price:
                errors.add(
                    f"items.{change['index']}.price",
                    "above_market",
                    _("The price cannot be above the market price (%(market)s).", market=fen_to_yuan(sku.market_price)),
                )
        errors.raise_if_any()
        adjusted = []
        for sku_id, change in wanted.items():
            sku = skus[sku_id]
            if "stock" in change and change["stock"] != sku.stock:
                adjusted.append((sku, change["stock"] - sku.stock))
                sku.stock = change["stock"]
            if "price" in change:
                sku.price = change["price"]
        if adjusted:
            events.send(events.stock_adjusted, changes=adjusted)
        audit.record(
            "sku.bulk_update",
            actor=actor,
            store_id=current_store().id,
            target=f"skus:{len(wanted)}",
            detail={"skus": sorted(wanted)[:100]},
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return [skus[sku_id] for sku_id in wanted]
