"""Storefront catalogue pages (routes on the ``storefront`` blueprint): category, search,
product detail, and the store's product images.

Imported at the end of :mod:`mallow.storefront.views`, so the routes join that blueprint (and
its "store not open" check) before it is registered.
"""
from __future__ import annotations

import re

from flask import abort, current_app, render_template, request, send_file, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from mallow.catalog import categories, products, richtext, search
from mallow.catalog.money import MoneyError, fen_to_yuan, yuan_to_fen
from mallow.media.images import absolute_path
from mallow.storefront.views import bp
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed

HOME_PRODUCTS = 20
_MEDIA_NAME = re.compile(r"^products/[0-9a-f]{32}(?:_\d{2,4})?\.(?:jpg|png|webp)$")


def media_name(path: str | None, store_id: int | None = None) -> str | None:
    """``uploads/stores/<id>/products/x.jpg`` → ``products/x.jpg`` (None for another store's)."""
    if not path:
        return None
    store_id = store_id if store_id is not None else current_store().id
    prefix = f"uploads/stores/{store_id}/"
    if not path.startswith(prefix):
        return None
    name = path[len(prefix):]
    return name if _MEDIA_NAME.match(name) else None


def image_url(path: str | None) -> str | None:
    """The storefront URL of a stored product image."""
    name = media_name(path)
    return url_for("storefront.media", name=name) if name else None


@bp.app_template_filter("yuan")
def yuan_filter(fen) -> str:
    """``1250|yuan`` → ``12.50`` (money is fen everywhere else)."""
    return fen_to_yuan(fen)


@bp.app_template_filter("rich_text")
def rich_text_filter(markup: str | None) -> Markup:
    """Stored descriptions are sanitised on save; cleaning again on output costs little and
    covers rows written any other way."""
    return Markup(richtext.sanitise(markup))


@bp.app_context_processor
def catalogue_helpers():
    return {"product_image_url": image_url,
            "can_add_to_cart": "storefront.add_to_cart" in current_app.view_functions}


def home_context() -> dict:
    """What the home page shows of the catalogue: the first on-shelf products, top categories."""
    page = search.search(search.Query(per_page=HOME_PRODUCTS))
    top = [c for c, depth in categories.tree(active_only=True) if depth == 0]
    return {"products": page.items, "min_prices": page.min_prices, "total_products": page.total, "categories": top}


def _yuan_price(args, key, errors):
    raw = args.get(key)
    if raw is None or not str(raw).strip():
        return None
    try:
        return yuan_to_fen(str(raw))
    except MoneyError:
        errors.add(key, "invalid", _("Enter an amount in yuan, e.g. 12.50."))
        return None


def _listing(template: str, *, category=None, **context):
    args = request.args.to_dict()
    if category is not None:
        args["category"] = str(category.id)
    try:
        query = search.parse_query(args, price_parser=_yuan_price)
    except ValidationFailed as failed:
        from flask import g

        g.form_errors = failed.errors
        return render_template(template, page=None, query=None, category=category,
                               tree=categories.tree(active_only=True), sorts=_sorts(), **context), 400
    page = search.search(query)
    return render_template(template, page=page, query=query, category=category,
                           tree=categories.tree(active_only=True), sorts=_sorts(), **context)


def _sorts():
    return [("default", _("Recommended")), ("sales", _("Best selling")), ("price_asc", _("Price: low to high")),
            ("price_desc", _("Price: high to low")), ("newest", _("Newest"))]


@bp.get("/search")
def search_page():
    return _listing("storefront/search.html")


@bp.get("/category/<int:category_id>")
def category(category_id):
    found = categories.visible(category_id)
    if found is None:
        abort(404)
    children = [c for c in categories.all_categories(active_only=True) if c.parent_id == found.id]
    return _listing("storefront/category.html", category=found, children=children)


@bp.get("/products/<int:product_id>")
def product(product_id):
    found = products.get(product_id, shopper=True)
    if found is None:
        abort(404)
    skus = [sku for sku in found.skus if sku.active]
    chosen = next((sku for sku in skus if sku.stock > 0), None)
    category_row = categories.get(found.category_id) if found.category_id else None
    return render_template("storefront/product.html", product=found, skus=skus, chosen=chosen,
                           images=sorted(found.images, key=lambda image: image.sort),
                           min_price=products.min_price(found), category=category_row,
                           spec_label=products.spec_label)


@bp.get("/media/<path:name>")
def media(name):
    """A product image of this store (names are random and never reused: cached for a year)."""
    if not _MEDIA_NAME.match(name):
        abort(404)
    path = absolute_path(f"uploads/stores/{current_store().id}/{name}")
    if path is None:
        abort(404)
    response = send_file(path, max_age=365 * 86400)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
