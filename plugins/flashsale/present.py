"""What the shopper's pages and the countdown block show beyond the sale's JSON: the store's
theme around the pages, the products' pictures and option names, the plugin's static files with
a content version, and the way back after signing in or adding an address."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import current_app, url_for

from mallow.sdk import ProductImage, Sku, db, image_url, static_version, storefront_theme

STATIC = Path(__file__).parent / "static"


def asset_version(name: str) -> str:
    """A content hash of one of the plugin's static files, for ``?v=``."""
    return static_version(STATIC, name)


def page_theme() -> dict:
    """The store's active theme around the sale pages (the SDK's ``storefront_theme``)."""
    return storefront_theme()


def option_label(sku) -> str:
    """An option as shoppers read it: its values (``200g`` / ``红色 / 大``), never the key."""
    values = [str(v) for v in (getattr(sku, "spec_values", None) or {}).values() if str(v).strip()]
    return " / ".join(values)


def product_pictures(product_ids) -> dict[int, str]:
    """``{product id: the URL of its first picture (the small copy)}``."""
    ids = sorted({int(i) for i in product_ids if i})
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(ProductImage)
        .where(ProductImage.product_id.in_(ids))
        .order_by(ProductImage.product_id, ProductImage.sort, ProductImage.id)
    ).scalars()
    found: dict[int, str] = {}
    for image in rows:
        if image.product_id not in found:
            url = image_url(image.thumb_path or image.path)
            if url:
                found[image.product_id] = url
    return found


def decorate_items(sale, items: list[dict], skus: dict | None = None) -> list[dict]:
    """The sale JSON's items with a picture, the option's name and the share sold (for the bar);
    ``skus``: ``{sku id: sku}`` of the items, when read already."""
    pictures = product_pictures(item["product_id"] for item in items)
    if skus is None:
        ids = [item["sku_id"] for item in items]
        skus = (
            {sku.id: sku for sku in db.session.execute(sa.select(Sku).where(Sku.id.in_(ids))).scalars()} if ids else {}
        )
    for item in items:
        item["image"] = pictures.get(item["product_id"])
        item["option"] = option_label(skus.get(item["sku_id"]))
        item["percent"] = (100 * item["sold"] // item["quota"]) if item["quota"] else 100
    return items


def core_url(endpoint: str, **values) -> str | None:
    """A core storefront page's URL, or None where this Mallow has no such page."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def first_steps(here: str) -> dict:
    """Where a shopper goes to sign in, sign up or add an address, and comes back to ``here``."""
    return {
        "login_url": core_url("storefront.login", next=here),
        "register_url": core_url("storefront.register", next=here),
        "new_address_url": core_url("storefront.new_address", next=here) or core_url("storefront.account"),
    }
