"""The products that show library images: the catalogue's finder for :mod:`mallow.media.usage`.

A product shows an image as one of its pictures (``ProductImage.path`` is the asset's path) or
as a SKU's own picture (规格图, ``Sku.media_id``: a use by the SKU's product, counted once).
``create_app`` registers :func:`products_using` with the media library.
"""

from __future__ import annotations

import sqlalchemy as sa

from mallow.catalog.models import Product, ProductImage, Sku
from mallow.db import db
from mallow.media.usage import Use


def products_using(assets: list) -> dict[int, list[Use]]:
    """``{asset id: [Use]}``: the products that show one of ``assets``, in product order."""
    wanted = {a.id for a in assets}
    by_path = {a.path: a.id for a in assets}
    found: dict[int, list[Use]] = {}
    rows = db.session.execute(
        sa.select(ProductImage.path, Product.id, Product.title, Product.status)
        .join(Product, Product.id == ProductImage.product_id)
        .where(ProductImage.path.in_(by_path))
        .order_by(Product.id)
    )
    for path, product_id, title, status in rows:
        found.setdefault(by_path[path], []).append(Use("product", product_id, title, status))
    rows = db.session.execute(
        sa.select(Sku.media_id, Product.id, Product.title, Product.status)
        .distinct()
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.media_id.in_(wanted))
        .order_by(Product.id)
    )
    for media_id, product_id, title, status in rows:  # a SKU's own picture: a use by its product
        places = found.setdefault(media_id, [])
        if not any(use.id == product_id for use in places):
            places.append(Use("product", product_id, title, status))
    return found
