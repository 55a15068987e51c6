"""Products and SKUs as JSON, the shapes the API answers with (prices in integer fen)."""

from __future__ import annotations

from mallow.catalog import sku_images
from mallow.catalog.models import Product, Sku
from mallow.catalog.search import Cover, Summary
from mallow.media import library


def min_price(product: Product) -> int | None:
    prices = [sku.price for sku in product.skus if sku.active]
    return min(prices) if prices else None


def sku_json(sku: Sku, *, private: bool = False, image: dict | None = None) -> dict:
    """``image``: :func:`mallow.catalog.sku_images.image_json` of the SKU's picture."""
    data = {
        "id": sku.id,
        "spec_values": sku.spec_values or {},
        "spec_key": sku.spec_key,
        "price": sku.price,
        "market_price": sku.market_price,
        "stock": sku.stock,
        "weight_g": sku.weight_g,
        "image": image,
    }
    if private:
        data.update(code=sku.code, active=sku.active)
    return data


def _ordered(images) -> list:
    """A product's pictures in their order, the cover first (ties by id, as the listing's covers)."""
    return sorted(images, key=lambda image: (image.sort, image.id or 0))


def summary_of(product: Product, price: int | None = None) -> Summary:
    """A loaded product as a listing shows it (``price``: its min price, when already known)."""
    images = _ordered(product.images)
    return Summary(
        id=product.id,
        title=product.title,
        subtitle=product.subtitle,
        category_id=product.category_id,
        sales=product.sales,
        status=product.status,
        sort=product.sort,
        created_at=product.created_at,
        updated_at=product.updated_at,
        min_price=price if price is not None else min_price(product),
        cover=Cover(images[0].path, images[0].thumb_path, images[0].width, images[0].height) if images else None,
    )


def summary_json(summary: Summary, image_url, *, private: bool = False) -> dict:
    """A listed product (``private``: with the console's own fields); ``image_url(path)`` makes a
    URL for a stored image path."""
    cover = summary.cover
    data = {
        "id": summary.id,
        "title": summary.title,
        "subtitle": summary.subtitle,
        "category_id": summary.category_id,
        "min_price": summary.min_price,
        "sales": summary.sales,
        "cover": (
            {
                "url": image_url(cover.path),
                "thumb_url": image_url(cover.thumb_path),
                "width": cover.width,
                "height": cover.height,
            }
            if cover
            else None
        ),
    }
    if private:
        data.update(
            status=summary.status,
            sort=summary.sort,
            created_at=summary.created_at.isoformat() if summary.created_at else None,
            updated_at=summary.updated_at.isoformat() if summary.updated_at else None,
        )
    return data


def product_json(
    product: Product, image_url, *, private: bool = False, summary: bool = False, price: int | None = None
) -> dict:
    """``image_url(path)`` makes a URL for a stored image path."""
    data = summary_json(summary_of(product, price), image_url, private=private)
    if summary:
        return data
    images = _ordered(product.images)
    skus = [sku for sku in product.skus if private or sku.active]
    assets = sku_images.assets_of(skus)
    data.update(
        description_html=product.description_html,
        video_url=product.video_url,
        specs=product.specs or [],
        shipping_template_id=product.shipping_template_id,
        images=[
            {
                "id": image.id,
                "url": image_url(image.path),
                "thumb_url": image_url(image.thumb_path),
                "width": image.width,
                "height": image.height,
            }
            for image in images
        ],
        skus=[
            sku_json(sku, private=private, image=sku_images.image_json(assets.get(sku.media_id), image_url))
            for sku in skus
        ],
    )
    if private:  # the library image each one is (None for an upload from before the library)
        media_ids = library.ids_by_path(image.path for image in images)
        for entry, image in zip(data["images"], images, strict=False):
            entry["media_id"] = media_ids.get(image.path)
    return data
