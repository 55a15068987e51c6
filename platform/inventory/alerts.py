"""Low-stock notices: one open notice per active SKU below the store's threshold, resolved once
the SKU is restocked (or gone).

An order finds, inside its own transaction, the SKUs it took under the threshold; after the
commit a job raises their notices, so the order never waits for it. A lost job (Redis down, a
restart of the embedded runner) only delays the notice: the periodic ``inventory.sweep`` looks
at every SKU again.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from mallow import settings
from mallow.catalog.models import Product, Sku
from mallow.db import db
from mallow.jobs import job, store_sweep
from mallow.notices import Notice, raise_notice, resolve

KIND = "low_stock"


def queue_notices(store_id: int, sku_ids: list[int]) -> None:
    """After the commit: have a job raise the notices of ``sku_ids`` (queuing never raises)."""
    if sku_ids:
        current_app.extensions["mallow.jobs"].enqueue("inventory.low_stock", store_id=store_id, sku_ids=sku_ids)


def refresh(sku_ids: list[int] | None = None) -> int:
    """Raise (or update) the notice of each SKU under the threshold and resolve the others; only
    ``sku_ids``, or (None) every SKU under the threshold or with an open notice. Idempotent.
    Returns how many SKUs are low."""
    threshold = int(settings.get("low_stock_threshold"))
    if sku_ids is None:
        sku_ids = (
            list(db.session.execute(db.select(Sku.id).where(Sku.active.is_(True), Sku.stock < threshold)).scalars())
            + _with_open_notice()
        )
    wanted = set(int(sku_id) for sku_id in sku_ids)
    skus = {sku.id: sku for sku in db.session.execute(db.select(Sku).where(Sku.id.in_(wanted))).scalars()}
    low = 0
    for sku_id in sorted(wanted):
        sku = skus.get(sku_id)
        if sku is None or not sku.active or sku.stock >= threshold:
            resolve(KIND, f"sku:{sku_id}")
            continue
        product = db.session.get(Product, sku.product_id)
        label = f"{product.title} {sku.spec_key}".strip()
        raise_notice(
            KIND,
            f"sku:{sku.id}",
            _("Low stock: %(name)s has %(stock)s left.", name=label, stock=sku.stock),
            {"sku_id": sku.id, "stock": sku.stock, "threshold": threshold},
        )
        low += 1
    return low


def _with_open_notice() -> list[int]:
    keys = db.session.execute(db.select(Notice.key).where(Notice.kind == KIND, Notice.open_key.is_not(None))).scalars()
    return [int(key.split(":", 1)[1]) for key in keys if key.startswith("sku:") and key[4:].isdigit()]


@job("inventory.low_stock", store=True, idempotent=True)
def low_stock_job(store, sku_ids: list[int]):
    low = refresh(sku_ids)
    db.session.commit()
    return low


@store_sweep("inventory", every_seconds=300)
def sweep(store, now):
    """Every store, every five minutes: the notices a lost job did not raise (or resolve)."""
    low = refresh()
    db.session.commit()
    return {"low": low}
