"""Storefront catalogue pages (routes on the ``storefront`` blueprint): category, search,
product detail, and the store's product images.

The product and category pages show the store's published product-detail / category template
(page builder, :mod:`mallow.builder.current`) when there is one, else the fixed pages. Both draw
the same plain data (:func:`product_detail_view`, :func:`buy_view`, :func:`category_view`,
:func:`listing_view`) with the same partial templates (``storefront/_product_detail.html``,
``_product_buy.html``, ``_category.html``, ``_refine.html``, ``_pager.html``,
``_product_grid.html``), so a template published without edits looks like the fixed page.

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
#: product images: library images (``media/``) and uploads from before the library (``products/``)
_MEDIA_NAME = re.compile(r"^(?:media|products)/[0-9a-f]{32}(?:_\d{2,4})?\.(?:jpg|png|webp)$")


def media_name(path: str | None, store_id: int | None = None) -> str | None:
    """``uploads/stores/<id>/media/x.jpg`` → ``media/x.jpg`` (None for another store's)."""
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


def home_context() -> dict:
    """What the home page shows of the catalogue: the first on-shelf products, top categories."""
    page = search.search(search.Query(per_page=HOME_PRODUCTS))
    top = [c for c, depth in categories.tree(active_only=True) if depth == 0]
    return {"products": product_cards(page), "total_products": page.total, "categories": top}


def product_cards(page: search.Page) -> list[dict]:
    """The products of a search page as plain cards (see ``storefront/_product_grid.html``)."""
    from mallow.builder.render import ProductUrls, product_view

    urls = ProductUrls()
    return [product_view(p, page.min_prices.get(p.id), urls) for p in page.items]


# -- plain views of the catalogue (the fixed pages and the page builder's blocks) -------------

def product_detail_view(product) -> dict:
    """What does not change between catalogue writes: photos, title, category, description."""
    category = categories.get(product.category_id) if product.category_id else None
    images = [{"src": image_url(i.path), "width": i.width, "height": i.height}
              for i in sorted(product.images, key=lambda image: image.sort)]
    return {"id": product.id, "title": product.title, "subtitle": product.subtitle or "",
            "images": [i for i in images if i["src"]],
            "category": {"name": category.name, "url": url_for("storefront.category", category_id=category.id)}
            if category is not None else None,
            "video_url": product.video_url or "", "description": rich_text_filter(product.description_html)
            if product.description_html else ""}


def buy_view(product) -> dict:
    """Price, options with their stock, plugin slots and the add-to-cart form: changes with
    every sale, so it is built for each request (never cached)."""
    from flask_wtf.csrf import generate_csrf
    from mallow.plugins.web import template_slot

    skus = [sku for sku in product.skus if sku.active]
    chosen = next((sku for sku in skus if sku.stock > 0), None)
    price = products.min_price(product)
    cart = None
    if "storefront.add_to_cart" in current_app.view_functions:
        cart = {"action": url_for("storefront.add_to_cart"), "csrf_token": generate_csrf()}
    return {"price": fen_to_yuan(price) if price is not None else None,
            "price_varies": len({sku.price for sku in skus}) > 1,
            "market_price": fen_to_yuan(chosen.market_price) if chosen and chosen.market_price else None,
            "sales": product.sales, "chosen": chosen is not None, "cart": cart,
            "after_price": template_slot("product.after_price", product=product, skus=skus),
            "skus": [{"id": sku.id, "label": products.spec_label(sku.spec_values, product.specs) or _("Standard"),
                      "price": fen_to_yuan(sku.price), "stock": sku.stock, "soldout": sku.stock <= 0,
                      "checked": chosen is not None and sku.id == chosen.id} for sku in skus]}


def category_view(category) -> dict:
    children = [c for c in categories.all_categories(active_only=True) if c.parent_id == category.id]
    return {"id": category.id, "name": category.name,
            "children": [{"name": c.name, "url": url_for("storefront.category", category_id=c.id)} for c in children]}


#: the query parameters a listing reads (others are ignored and left out of its links)
LISTING_ARGS = ("q", "category", "min_price", "max_price", "sort", "page", "per_page")


def listing_args(args) -> dict:
    return {key: args.get(key) for key in LISTING_ARGS if args.get(key) is not None}


def _yuan_price(args, key, errors):
    raw = args.get(key)
    if raw is None or not str(raw).strip():
        return None
    try:
        return yuan_to_fen(str(raw))
    except MoneyError:
        errors.add(key, "invalid", _("Enter an amount in yuan, e.g. 12.50."))
        return None


def parse_listing(args: dict, category=None) -> tuple[search.Query | None, dict]:
    """``(query, {})``, or ``(None, field errors)`` for parameters that make no sense."""
    if category is not None:
        args = {**args, "category": str(category.id)}
    try:
        return search.parse_query(args, price_parser=_yuan_price), {}
    except ValidationFailed as failed:
        return None, failed.errors


def listing_view(args: dict, *, endpoint: str, view_args: dict | None = None, category=None,
                 with_categories: bool = False) -> dict:
    """A product listing as plain data: the filter form, the products, the pager and field
    errors. ``args`` are :func:`listing_args`; ``endpoint``/``view_args`` the listing's address."""
    view_args = view_args or {}
    query, errors = parse_listing(args, category)
    page = search.search(query) if query is not None else None
    chosen_sort = args.get("sort") or "default"
    options = None
    if with_categories:
        options = [{"id": c.id, "label": "— " * depth + c.name, "selected": args.get("category") == str(c.id)}
                   for c, depth in categories.tree(active_only=True)]
    pager = None
    if page is not None and page.pages > 1:
        def page_url(number):
            return url_for(endpoint, **view_args, **{**args, "page": number})

        pager = {"page": page.page, "pages": page.pages, "prev": page_url(page.page - 1) if page.has_prev else None,
                 "next": page_url(page.page + 1) if page.has_next else None}
    return {"action": url_for(endpoint, **view_args), "q": args.get("q") or "", "categories": options,
            "sorts": [{"key": key, "label": label, "selected": key == chosen_sort} for key, label in _sorts()],
            "min_price": args.get("min_price") or "", "max_price": args.get("max_price") or "",
            "errors": [{"field": field, "message": message} for field, (_code, message) in errors.items()],
            "products": product_cards(page) if page is not None else None,
            "total": page.total if page is not None else 0, "pager": pager}


def _sorts():
    return [("default", _("Recommended")), ("sales", _("Best selling")), ("price_asc", _("Price: low to high")),
            ("price_desc", _("Price: high to low")), ("newest", _("Newest"))]


# -- routes -----------------------------------------------------------------------------------

def _built(kind: str, subject):
    """The store's published template of this kind for ``subject``, or None (the fixed page)."""
    from mallow.builder.storefront import published_page_response

    return published_page_response(kind, subject=subject)


@bp.get("/search")
def search_page():
    listing = listing_view(listing_args(request.args), endpoint="storefront.search_page", with_categories=True)
    return render_template("storefront/search.html", listing=listing), 400 if listing["errors"] else 200


@bp.get("/category/<int:category_id>")
def category(category_id):
    from mallow.builder.current import CategorySubject

    found = categories.visible(category_id)
    if found is None:
        abort(404)
    subject = CategorySubject(found, listing_args(request.args))
    built = _built("category", subject)
    if built is not None:
        return built
    listing = listing_view(subject.args, endpoint="storefront.category", view_args={"category_id": found.id},
                           category=found)
    return render_template("storefront/category.html", category=category_view(found), listing=listing), subject.status


@bp.get("/products/<int:product_id>")
def product(product_id):
    from mallow.builder.current import ProductSubject

    found = products.get(product_id, shopper=True)
    if found is None:
        abort(404)
    built = _built("product", ProductSubject(found))
    if built is not None:
        return built
    return render_template("storefront/product.html", detail=product_detail_view(found), buy=buy_view(found))


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
