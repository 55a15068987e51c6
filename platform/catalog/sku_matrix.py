"""A product's SKUs from its specs: the plan of what a save changes, then writing it.

:func:`plan` checks the SKU entries of a save against the spec combinations
(:func:`mallow.catalog.specs.combinations`): every combination needs a price, given now or kept
from its existing SKU. :func:`write` updates the SKUs in place by ``spec_key``, so a SKU's id
(and every order line pointing at it) stays valid; a combination that disappears from the specs
is deactivated, never deleted. Stock set by hand is announced (``stock_adjusted``,
:mod:`mallow.catalog.events`) for the stock ledger. Field errors name the place:
``skus.<index in the given list>.<field>``.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.catalog import events, sku_images
from mallow.catalog.field_checks import CODE_MAX, MAX_STOCK, MAX_WEIGHT_G, NUMBER_MESSAGES, PRICE_MESSAGES, whole
from mallow.catalog.models import Product, Sku
from mallow.catalog.specs import MAX_SKUS, combinations, spec_key, spec_label
from mallow.db import db
from mallow.money import MAX_FEN
from mallow.validation import Errors


def _check_sku_entry(entry, index: int, existing: Sku | None, errors: Errors) -> dict:
    """The values for one SKU: the given fields over the existing SKU's (a new SKU needs a price)."""
    where = f"skus.{index}"
    values = {}
    if "price" in entry or existing is None:
        price, code = (
            whole(entry.get("price"), minimum=0, maximum=MAX_FEN)
            if entry.get("price") is not None
            else (None, "required")
        )
        if code:
            errors.add(f"{where}.price", code, PRICE_MESSAGES[code]())
        values["price"] = price
    if "market_price" in entry:
        if entry.get("market_price") in (None, ""):
            values["market_price"] = None
        else:
            market, code = whole(entry["market_price"], minimum=0, maximum=MAX_FEN)
            if code:
                errors.add(f"{where}.market_price", code, PRICE_MESSAGES[code]())
            values["market_price"] = market
    for key, maximum, default in (("stock", MAX_STOCK, 0), ("weight_g", MAX_WEIGHT_G, 0)):
        if key in entry or existing is None:
            raw = entry.get(key)
            if raw in (None, ""):
                values[key] = default
                continue
            number, code = whole(raw, minimum=0, maximum=maximum)
            if code:
                errors.add(f"{where}.{key}", code, NUMBER_MESSAGES[code]())
            values[key] = number
    if "code" in entry or existing is None:
        code_value = str(entry.get("code") or "").strip()
        if len(code_value) > CODE_MAX:
            errors.add(f"{where}.code", "too_long", _("Use at most %(max)s characters.", max=CODE_MAX))
        values["code"] = code_value
    if "image" in entry:
        values["media_id"] = sku_images.checked_id(entry["image"], f"{where}.image", errors)
    price = values.get("price", existing.price if existing is not None else None)
    market = values.get("market_price", existing.market_price if existing is not None else None)
    if price is not None and market is not None and market < price and f"{where}.market_price" not in errors:
        errors.add(f"{where}.market_price", "below_price", _("The market price cannot be below the price."))
    return values


def plan(product: Product | None, specs: list[dict], entries, errors: Errors) -> list[tuple[dict, Sku | None, dict]]:
    """``[(spec_values, existing SKU or None, new field values)]`` for every combination."""
    existing = {sku.spec_key: sku for sku in (product.skus if product is not None else [])}
    wanted = combinations(specs)
    wanted_keys = {spec_key(values): values for values in wanted}
    given: dict[str, tuple[int, dict]] = {}
    if entries is not None:
        if not isinstance(entries, list):
            errors.add("skus", "invalid", _("SKUs must be a list."))
            entries = []
        if len(entries) > MAX_SKUS:
            errors.add("skus", "too_many", _("At most %(max)s SKUs.", max=MAX_SKUS))
            entries = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                errors.add(f"skus.{i}", "invalid", _("Each SKU must be an object."))
                continue
            values = entry.get("spec_values") or {}
            if not isinstance(values, dict):
                errors.add(f"skus.{i}.spec_values", "invalid", _("Give the SKU's value for each spec."))
                continue
            key = spec_key({str(k).strip(): str(v).strip() for k, v in values.items()})
            if key not in wanted_keys:
                errors.add(
                    f"skus.{i}.spec_values",
                    "unknown",
                    _("This combination is not one of the specs: %(label)s.", label=spec_label(values) or "—"),
                )
                continue
            if key in given:
                errors.add(f"skus.{i}.spec_values", "duplicate", _("This combination is there twice."))
                continue
            given[key] = (i, entry)
    planned, missing = [], []
    for values in wanted:
        key = spec_key(values)
        sku = existing.get(key)
        if key in given:
            index, entry = given[key]
            planned.append((values, sku, _check_sku_entry(entry, index, sku, errors)))
        elif sku is not None:
            planned.append((values, sku, {}))
        else:
            missing.append(spec_label(values, specs) or _("(no specs)"))
    if missing:
        errors.add(
            "skus",
            "missing",
            _(
                "Give a price for every combination: %(missing)s.",
                missing=", ".join(missing[:10]) + ("…" if len(missing) > 10 else ""),
            ),
        )
    return planned


def write(product: Product, planned) -> None:
    """Apply :func:`plan`'s result to the product's SKUs (not committed)."""
    keep = set()
    movements = []
    for values, sku, changes in planned:
        key = spec_key(values)
        keep.add(key)
        if sku is None:
            sku = Sku(
                spec_values=values,
                spec_key=key,
                price=changes["price"],
                market_price=changes.get("market_price"),
                stock=changes.get("stock", 0),
                weight_g=changes.get("weight_g", 0),
                code=changes.get("code", ""),
                media_id=changes.get("media_id"),
                active=True,
            )
            product.skus.append(sku)
            if sku.stock:
                movements.append((sku, sku.stock))
            continue
        if "stock" in changes and changes["stock"] != sku.stock:
            movements.append((sku, changes["stock"] - sku.stock))
        for field, value in changes.items():
            setattr(sku, field, value)
        sku.spec_values = values
        sku.active = True
    for sku in product.skus:
        if sku.spec_key not in keep:
            sku.active = False  # kept: order lines may point at it
            sku.media_id = None  # its picture no longer holds a library image in use
    if movements:
        db.session.flush()
        events.send(events.stock_adjusted, changes=movements)


def lock(product: Product) -> None:
    """Load the product's SKUs fresh and locked (PostgreSQL): a concurrent order's stock
    reservation waits, so a stock edit never overwrites it unseen."""
    db.session.execute(
        sa.select(Sku).where(Sku.product_id == product.id).with_for_update().execution_options(populate_existing=True)
    ).scalars().all()
    db.session.expire(product, ["skus"])
