"""Low-stock alerts: checked after stock is taken, raised as a notice (once per SKU while open)
by a job, so the order transaction never waits for it."""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from mallow import settings
from mallow.catalog.models import Product, Sku
from mallow.db import db
from mallow.jobs import job
from mallow.notices import raise_notice, resolve


def check_after_reserve(sku_ids: list[int], store_id: int) -> None:
    """Queue an alert job for the SKUs now under the store's threshold."""
    threshold = int(settings.get("low_stock_threshold"))
    low = [s.id for s in db.session.execute(db.select(Sku).where(Sku.id.in_(sku_ids), Sku.stock < threshold)).scalars()]
    if low:
        current_app.extensions["mallow.jobs"].enqueue("inventory.low_stock", store_id=store_id, sku_ids=low)


@job("inventory.low_stock", store=True)
def low_stock_job(store, sku_ids: list[int]):
    threshold = int(settings.get("low_stock_threshold"))
    raised = 0
    for sku in db.session.execute(db.select(Sku).where(Sku.id.in_(sku_ids))).scalars():
        if sku.stock >= threshold:
            resolve("low_stock", f"sku:{sku.id}")
            continue
        product = db.session.get(Product, sku.product_id)
        label = f"{product.title} {sku.spec_key}".strip()
        raise_notice("low_stock", f"sku:{sku.id}", _("Low stock: %(name)s has %(stock)s left.", name=label, stock=sku.stock),
                     {"sku_id": sku.id, "stock": sku.stock, "threshold": threshold})
        raised += 1
    db.session.commit()
    return raised
