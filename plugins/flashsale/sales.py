"""Sales as the merchant manages them: create, edit, end, delete, and what they have sold.

Input is validated here for the console pages and the console API alike (money in integer fen;
the pages turn yuan text into fen first). A quota is taken out of nothing: it is a cap on how
many units of the SKU's own stock sell at the sale price, so it may not exceed that stock when
it is set; the SKU's stock is still taken by the core at every order.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from mallow.sdk import Errors, Product, Sku, ValidationFailed, current_store, db, fen_to_yuan, fresh_for, id_value
from mallow_flashsale import flags, gate, timing, txn
from mallow_flashsale.i18n import _
from mallow_flashsale.models import PendingOrder, Purchase, Sale, SaleItem, aware

MAX_ITEMS = 20
MAX_LIMIT = 999


def get(sale_id, *, with_items: bool = False) -> Sale | None:
    """The sale (``with_items``: its items read in the same statement), or None."""
    try:
        options = [joinedload(Sale.items)] if with_items else None
        return db.session.get(Sale, int(sale_id), options=options)
    except (TypeError, ValueError):
        return None


def all_sales() -> list[Sale]:
    return list(db.session.execute(sa.select(Sale).order_by(Sale.starts_at.desc(), Sale.id.desc())).scalars())


def unended_sales(now=None) -> list[Sale]:
    """Published sales not ended yet, by start: those a shopper may see now and those still
    before their preheat (which tell when the next one shows)."""
    now = now or timing.now()
    return list(
        db.session.execute(
            sa.select(Sale).where(Sale.published.is_(True), Sale.ends_at > now).order_by(Sale.starts_at, Sale.id)
        ).scalars()
    )


def visible_sales(now=None) -> list[Sale]:
    """Sales a shopper may see now: published, past their preheat, not ended."""
    now = now or timing.now()
    return [sale for sale in unended_sales(now) if sale.state(now) in ("preheat", "live")]


def true_for(sale_list, now, live_seconds: float) -> None:
    """Tell Mallow (``fresh_for``) how long what shows ``sale_list`` stays true: until the next
    moment one of them previews, starts or ends, and at most ``live_seconds`` while one is live
    (units sold move no stamp)."""
    seconds = [
        (aware(moment) - now).total_seconds()
        for sale in sale_list
        for moment in (sale.preheat_at, sale.starts_at, sale.ends_at)
        if moment is not None and aware(moment) > now
    ]
    if any(sale.state(now) == "live" for sale in sale_list):
        seconds.append(live_seconds)
    if seconds:
        fresh_for(max(0.0, min(seconds)))


def product_sales(product_id: int, now=None) -> tuple[list[tuple[Sale, SaleItem]], datetime | None]:
    """(sale, item) pairs of a product in sales a shopper may see now, and the next moment that
    changes (a sale of it previews, starts or ends; None: nothing planned)."""
    now = now or timing.now()
    rows = db.session.execute(
        sa.select(Sale, SaleItem)
        .join(SaleItem, SaleItem.sale_id == Sale.id)
        .where(SaleItem.product_id == product_id, Sale.published.is_(True), Sale.ends_at > now)
        .order_by(Sale.starts_at, Sale.id)
    ).all()
    moments = [
        aware(moment)
        for sale, _item in rows
        for moment in (sale.preheat_at, sale.starts_at, sale.ends_at)
        if moment is not None and aware(moment) > now
    ]
    visible = [(sale, item) for sale, item in rows if sale.state(now) in ("preheat", "live")]
    return visible, min(moments, default=None)


# --- writing ---------------------------------------------------------------------------------


def _int(data, key: str, errors: Errors, *, default: int, low: int = 0, high: int = MAX_LIMIT) -> int:
    raw = data.get(key, default)
    if raw in (None, ""):
        raw = default
    try:
        value = int(raw)
        if isinstance(raw, float) or isinstance(raw, bool):
            raise ValueError
    except (TypeError, ValueError):
        errors.add(key, "invalid", _("Enter a whole number."))
        return default
    if not low <= value <= high:
        errors.add(key, "out_of_range", _("Enter a number from %(low)s to %(high)s.", low=low, high=high))
    return value


def _time(data, key: str, errors: Errors, required: bool = True):
    raw = data.get(key)
    if raw in (None, "") and not required:
        return None
    moment = timing.parse_local(raw if isinstance(raw, str) else "")
    if moment is None:
        errors.add(key, "invalid", _("Enter a date and time."))
    return moment


def _clean_items(raw_items, errors: Errors, existing: dict[int, SaleItem]) -> list[dict]:
    if not isinstance(raw_items, list) or not raw_items:
        errors.add("items", "required", _("Add at least one product option to the sale."))
        return []
    if len(raw_items) > MAX_ITEMS:
        errors.add("items", "too_many", _("A sale holds at most %(max)s product options.", max=MAX_ITEMS))
        return []
    cleaned, seen = [], set()
    for index, raw in enumerate(raw_items):
        field = f"items.{index}"
        if not isinstance(raw, dict):
            errors.add(field, "invalid", _("Each product option needs a SKU, a sale price and a quota."))
            continue
        try:
            sku_id, price, quota = id_value(raw["sku_id"]), raw["sale_price"], int(raw["quota"])
            if type(price) is not int or sku_id is None:  # an id no SKU can have (too large…): no such option
                raise ValueError
        except (KeyError, TypeError, ValueError):
            errors.add(field, "invalid", _("Each product option needs a SKU, a sale price and a quota."))
            continue
        if sku_id in seen:
            errors.add(field, "duplicate", _("This product option is in the sale twice."))
            continue
        seen.add(sku_id)
        row = db.session.execute(
            sa.select(Sku, Product.status).join(Product, Product.id == Sku.product_id).where(Sku.id == sku_id)
        ).first()
        if row is None or not row[0].active:
            errors.add(field, "unknown_sku", _("This product option does not exist."))
            continue
        sku = row[0]
        if not 1 <= price < sku.price:
            errors.add(
                field,
                "price",
                _("The sale price must be below the regular price (¥%(price)s).", price=fen_to_yuan(sku.price)),
            )
        sold = existing[sku_id].sold if sku_id in existing else 0
        if quota < max(1, sold):
            errors.add(field, "quota", _("The quota cannot be below what has sold (%(sold)s).", sold=max(1, sold)))
        elif quota - sold > sku.stock:
            errors.add(field, "quota", _("The quota cannot exceed the stock (%(stock)s).", stock=sku.stock + sold))
        cleaned.append({"sku_id": sku_id, "product_id": sku.product_id, "sale_price": price, "quota": quota})
    return cleaned


def save(data: dict, sale: Sale | None = None) -> Sale:
    """Create a sale (``sale`` None) or update one from ``data``; raises ValidationFailed."""
    errors = Errors()
    title = (data.get("title") or "").strip() if isinstance(data.get("title"), str) else ""
    if not title:
        errors.add("title", "required", _("Enter the title of the sale."))
    elif len(title) > 60:
        errors.add("title", "too_long", _("At most %(max)s characters.", max=60))
    starts_at, ends_at = _time(data, "starts_at", errors), _time(data, "ends_at", errors)
    preheat_at = _time(data, "preheat_at", errors, required=False)
    if starts_at and ends_at and ends_at <= starts_at:
        errors.add("ends_at", "before_start", _("The sale must end after it starts."))
    if preheat_at and starts_at and preheat_at > starts_at:
        errors.add("preheat_at", "after_start", _("The preview must begin before the sale starts."))
    per_order = _int(data, "per_order_limit", errors, default=1, low=1)
    per_shopper = _int(data, "per_shopper_limit", errors, default=1)
    per_day = _int(data, "per_day_limit", errors, default=0)
    if per_shopper and per_order > per_shopper:
        errors.add(
            "per_order_limit", "above_shopper_limit", _("The limit per order cannot exceed the limit per shopper.")
        )
    published = data.get("published", False) in (True, "1", "on", "true")
    existing = {item.sku_id: item for item in sale.items} if sale is not None else {}
    items = _clean_items(data.get("items"), errors, existing)
    removed = [item for sku_id, item in existing.items() if sku_id not in {i["sku_id"] for i in items}]
    if any(item.sold for item in removed):
        errors.add("items", "has_orders", _("A product option that has sold cannot be removed from the sale."))
    errors.raise_if_any()

    if sale is None:
        sale = Sale()
        db.session.add(sale)
    sale.title, sale.starts_at, sale.ends_at, sale.preheat_at = title, starts_at, ends_at, preheat_at
    sale.per_order_limit, sale.per_shopper_limit, sale.per_day_limit = per_order, per_shopper, per_day
    sale.published = published
    for item in removed:
        sale.items.remove(item)
    db.session.flush()
    for spec in items:
        item = existing.get(spec["sku_id"])
        if item is None:
            sale.items.append(
                SaleItem(
                    sku_id=spec["sku_id"],
                    product_id=spec["product_id"],
                    sale_price=spec["sale_price"],
                    quota=spec["quota"],
                    remaining=spec["quota"],
                )
            )
            continue
        item.sale_price = spec["sale_price"]
        delta = spec["quota"] - item.quota
        if delta:  # one conditional UPDATE: buyers may be taking units right now
            changed = db.session.execute(
                sa.update(SaleItem)
                .where(SaleItem.id == item.id, SaleItem.remaining + delta >= 0)
                .values(quota=SaleItem.quota + delta, remaining=SaleItem.remaining + delta)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:
                raise ValidationFailed({"items": ("quota", _("The quota cannot be below what has sold."))})
            db.session.refresh(item)
    db.session.flush()
    _after_change(sale.id)
    return sale


def end_now(sale: Sale) -> Sale:
    """Stop a sale at once: a live one ends now, one not started yet goes back to draft."""
    now = timing.now()
    if sale.state(now) == "live":
        sale.ends_at = now
    else:
        sale.published = False
    db.session.flush()
    _after_change(sale.id)
    return sale


def delete(sale: Sale) -> None:
    has_orders = db.session.execute(
        sa.select(sa.func.count()).select_from(Purchase).where(Purchase.sale_id == sale.id)
    ).scalar()
    if has_orders:
        raise ValidationFailed({"sale": ("has_orders", _("This sale has orders: end it instead of deleting it."))})
    sale_id = sale.id
    db.session.execute(sa.delete(PendingOrder).where(PendingOrder.sale_id == sale_id))
    db.session.delete(sale)
    db.session.flush()
    _after_change(sale_id)


def _after_change(sale_id: int) -> None:
    store_id = current_store().id

    def refresh():
        flags.forget_sale(store_id, sale_id)
        gate.drop(store_id, sale_id)  # re-seeded from the database on the next attempt

    txn.after_commit(refresh)


# --- reading -------------------------------------------------------------------------------------


def paid_units(sale_id: int) -> dict[int, int]:
    rows = db.session.execute(
        sa.select(Purchase.item_id, sa.func.sum(Purchase.quantity))
        .where(Purchase.sale_id == sale_id, Purchase.status == "paid")
        .group_by(Purchase.item_id)
    ).all()
    return {item_id: int(total) for item_id, total in rows}


def products_of(items) -> dict[int, tuple[Product, Sku]]:
    """``{sku_id: (product, sku)}`` for showing items."""
    ids = [item.sku_id for item in items]
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Product, Sku).join(Sku, Sku.product_id == Product.id).where(Sku.id.in_(ids))
    ).all()
    return {sku.id: (product, sku) for product, sku in rows}


def as_json(sale: Sale, now=None, *, for_staff: bool = False, products: dict | None = None) -> dict:
    """The sale as the API shows it; ``products``: :func:`products_of` its items, when read already."""
    now = now or timing.now()
    state = sale.state(now)
    target = sale.starts_at if state in ("preheat", "hidden", "draft") else sale.ends_at
    products = products if products is not None else products_of(sale.items)
    paid = paid_units(sale.id) if for_staff else {}
    data = {
        "id": sale.id,
        "title": sale.title,
        "state": state,
        "preheat_at": aware(sale.preheat_at).isoformat() if sale.preheat_at else None,
        "starts_at": aware(sale.starts_at).isoformat(),
        "ends_at": aware(sale.ends_at).isoformat(),
        "seconds_left": max(0, int((aware(target) - now).total_seconds())),
        "per_order_limit": sale.per_order_limit,
        "per_shopper_limit": sale.per_shopper_limit,
        "per_day_limit": sale.per_day_limit,
        "sold_out": all(item.remaining <= 0 for item in sale.items),
        "items": [],
    }
    if for_staff:
        data["published"] = sale.published
    for item in sale.items:
        product, sku = products.get(item.sku_id, (None, None))
        entry = {
            "sku_id": item.sku_id,
            "product_id": item.product_id,
            "title": product.title if product else "",
            "spec": sku.spec_key if sku else "",
            "regular_price": sku.price if sku else None,
            "sale_price": item.sale_price,
            "quota": item.quota,
            "remaining": item.remaining,
            "sold": item.sold,
            "sold_out": item.remaining <= 0,
        }
        if for_staff:
            entry["paid"] = paid.get(item.id, 0)
        data["items"].append(entry)
    return data
