"""The catalogue as plain page data, drawn alike by the fixed storefront pages
(:mod:`mallow.storefront.catalogue`) and the page builder's blocks (:mod:`mallow.builder.current`):
product cards, a product's detail, its buy box, a category and a product listing. The partial
templates (``storefront/_product_detail.html``, ``_product_buy.html``, ``_category.html``,
``_refine.html``, ``_pager.html``, ``_product_grid.html``) draw them, so a template published
without edits looks like the fixed page.

The buy box (:func:`buy_view`, built for every request, never cached) carries the sticky buy bar
(店铺 · 客服 · 购物车 with its count | 加入购物车 · 立即购买), the option sheet's data (one row of
chips per spec dimension, each SKU's own picture (规格图) or none;
``platform/static/storefront/product.js`` enhances the no-JavaScript form, which keeps working on
its own) and the share data as JSON for a later ``wx.config`` step.
"""

from __future__ import annotations

from flask import current_app, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from mallow.builder.render import ProductUrls, product_view
from mallow.builder.themes import quick_gettext as _
from mallow.builder.themes import translated
from mallow.cart.current import count_badge, item_count
from mallow.catalog import categories, product_json, richtext, search, sku_images
from mallow.catalog.images import image_url, media_name
from mallow.catalog.specs import spec_label
from mallow.money import MoneyError, fen_to_yuan, yuan_to_fen
from mallow.plugins.web import template_slot
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web import json_for_script
from mallow.web.assets import asset_url

#: the query parameters a listing reads (others are ignored and left out of its links)
LISTING_ARGS = ("q", "category", "min_price", "max_price", "sort", "page", "per_page")


def product_cards(page: search.Page) -> list[dict]:
    """The products of a search page as plain cards (see ``storefront/_product_grid.html``)."""
    urls = ProductUrls()
    return [product_view(p, page.min_prices.get(p.id), urls) for p in page.items]


def product_detail_view(product) -> dict:
    """What does not change between catalogue writes: photos, title, category, description
    (sanitised on save; cleaned again here, which costs little and covers rows written any
    other way)."""
    category = categories.get(product.category_id) if product.category_id else None
    images = [
        {"src": image_url(i.path), "width": i.width, "height": i.height}
        for i in sorted(product.images, key=lambda image: image.sort)
    ]
    return {
        "id": product.id,
        "title": product.title,
        "subtitle": product.subtitle or "",
        "images": [i for i in images if i["src"]],
        "category": {"name": category.name, "url": url_for("storefront.category", category_id=category.id)}
        if category is not None
        else None,
        "video_url": product.video_url or "",
        "description": Markup(richtext.sanitise_kept(product.description_html)) if product.description_html else "",
    }


_PRODUCT_COUPONS = "mallow.builder.product_coupons"


def register_product_coupons(app, offers) -> None:
    """``offers(product)`` lists the coupons a shopper can claim for ``product`` (the buy box's 领券
    row): ``create_app`` registers :func:`mallow.storefront.coupons.product_coupons` (coupons sit
    above the builder)."""
    app.extensions[_PRODUCT_COUPONS] = offers


def _product_coupons(product) -> list[dict]:
    offers = current_app.extensions.get(_PRODUCT_COUPONS)
    return offers(product) if offers is not None else []


@translated
def buy_view(product) -> dict:
    """Price, options with their stock, plugin slots, the add-to-cart form, the buy bar (with the
    cart's count) and the share data: changes with every sale and every shopper, so it is built
    for each request (never cached)."""
    skus = [sku for sku in product.skus if sku.active]
    chosen = next((sku for sku in skus if sku.stock > 0), None)
    price = product_json.min_price(product)
    cart = None
    if "storefront.add_to_cart" in current_app.view_functions:
        cart = {
            "action": url_for("storefront.add_to_cart"),
            "csrf_token": generate_csrf(),
            "buy_now": url_for("storefront.buy_now"),
        }
    dims = [
        {"name": axis["name"], "values": [str(v) for v in axis["values"]]}
        for axis in (product.specs or [])
        if axis.get("name") and axis.get("values")
    ]
    images = sorted(product.images, key=lambda image: image.sort)
    thumb = next((url for url in (image_url(i.thumb_path or i.path) for i in images) if url), None)
    photo = next((url for url in (image_url(i.path) for i in images) if url), None)
    assets = sku_images.assets_of(skus)
    pictures = {
        sku.id: image_url(sku_images.thumb_path(assets[sku.media_id])) if sku.media_id in assets else None
        for sku in skus
    }
    sku_rows = [
        {
            "id": sku.id,
            "image": pictures[sku.id],
            "label": spec_label(sku.spec_values, product.specs) or _("Standard"),
            "price": fen_to_yuan(sku.price),
            "stock": sku.stock,
            "soldout": sku.stock <= 0,
            "market_price": fen_to_yuan(sku.market_price) if sku.market_price else None,
            "values": [str((sku.spec_values or {}).get(d["name"], "")) for d in dims],
            "checked": chosen is not None and sku.id == chosen.id,
        }
        for sku in skus
    ]
    count = item_count() if cart is not None else 0
    store = current_store()
    share = {
        "title": product.title,
        "desc": product.subtitle or store.name,
        "link": url_for("storefront.product", product_id=product.id, _external=True),
        "imgUrl": url_for("storefront.media", name=media_name(images[0].path), _external=True)
        if images and media_name(images[0].path)
        else "",
    }
    picker = {
        "dims": dims,
        "skus": [
            {k: row[k] for k in ("id", "values", "price", "market_price", "stock", "label", "image")}
            for row in sku_rows
        ],
        "image": thumb or photo,
        "max": 999,
    }
    # the option sheet's picture: the chosen SKU's own (规格图), else the product's first image
    sheet_image = (
        (pictures.get(chosen.id) if chosen is not None else None)
        or thumb
        or photo
        or next((url for url in pictures.values() if url), None)
    )
    return {
        "product_id": product.id,
        "title": product.title,
        "price": fen_to_yuan(price) if price is not None else None,
        "price_varies": len({sku.price for sku in skus}) > 1,
        "market_price": fen_to_yuan(chosen.market_price) if chosen and chosen.market_price else None,
        "sales": product.sales,
        "chosen": chosen is not None,
        "cart": cart,
        "chosen_label": next((row["label"] for row in sku_rows if row["checked"]), ""),
        "chosen_stock": chosen.stock if chosen is not None else 0,
        "after_price": template_slot("product.after_price", product=product, skus=skus),
        "coupons": _product_coupons(product),
        "skus": sku_rows,
        "dims": dims,
        "image": sheet_image,
        "picker_json": json_for_script(picker),
        "share_json": json_for_script(share),
        "texts_json": json_for_script(_product_texts()),
        "cart_count": count,
        "cart_badge": count_badge(count),
        "links": {
            "home": url_for("storefront.home"),
            "service": url_for("storefront.chat"),  # 客服: the chat (a guest signs in first)
            "cart": url_for("storefront.cart"),
        },
        "script": asset_url("product.js"),
        "share_script": asset_url("share-sheet.js"),  # the 分享 sheet: poster and link (mallow.sharing)
    }


def _product_texts() -> dict:
    """What product.js says, in the page's language (``{name}`` is filled in by the script)."""
    return {
        "close": _("Close"),
        "zoom": _("Zoom"),
        "previous": _("Previous"),
        "next": _("Next"),
        "photo_failed": _("The photo could not be loaded."),
        "sold_out": _("Sold out"),
        "in_stock": _("%(stock)s in stock", stock="{stock}"),
        "chosen": _("Chosen: %(option)s", option="{option}"),
        "choose": _("Choose %(names)s", names="{names}"),
        "copied": _("Link copied. Paste it to share."),
        "copy_by_hand": _("Copy this link to share it:"),
        "got_it": _("Got it"),
        "wechat_share": _("Tap ··· at the top right to send this page to a friend or share it to Moments."),
    }


def category_view(category) -> dict:
    children = [c for c in categories.all_categories(active_only=True) if c.parent_id == category.id]
    return {
        "id": category.id,
        "name": category.name,
        "children": [{"name": c.name, "url": url_for("storefront.category", category_id=c.id)} for c in children],
    }


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


@translated
def listing_view(
    args: dict, *, endpoint: str, view_args: dict | None = None, category=None, with_categories: bool = False
) -> dict:
    """A product listing as plain data: the filter form, the products, the pager and field
    errors. ``args`` are :func:`listing_args`; ``endpoint``/``view_args`` the listing's address."""
    view_args = view_args or {}
    query, errors = parse_listing(args, category)
    page = search.summaries(query) if query is not None else None
    chosen_sort = args.get("sort") or "default"
    options = None
    if with_categories:
        options = [
            {"id": c.id, "label": "— " * depth + c.name, "selected": args.get("category") == str(c.id)}
            for c, depth in categories.tree(active_only=True)
        ]
    pager = None
    if page is not None and page.pages > 1:

        def page_url(number):
            return url_for(endpoint, **view_args, **{**args, "page": number})

        pager = {
            "page": page.page,
            "pages": page.pages,
            "prev": page_url(page.page - 1) if page.has_prev else None,
            "next": page_url(page.page + 1) if page.has_next else None,
        }
    return {
        "action": url_for(endpoint, **view_args),
        "q": args.get("q") or "",
        "categories": options,
        "sorts": [{"key": key, "label": label, "selected": key == chosen_sort} for key, label in _sorts()],
        "min_price": args.get("min_price") or "",
        "max_price": args.get("max_price") or "",
        "errors": [{"field": field, "message": message} for field, (_code, message) in errors.items()],
        "products": product_cards(page) if page is not None else None,
        "total": page.total if page is not None else 0,
        "pager": pager,
    }


def _sorts():
    return [
        ("default", _("Recommended")),
        ("sales", _("Best selling")),
        ("price_asc", _("Price: low to high")),
        ("price_desc", _("Price: high to low")),
        ("newest", _("Newest")),
    ]
