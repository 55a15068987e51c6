"""Storefront catalogue pages (routes on the ``storefront`` blueprint): category, the category
index (分类), search, product detail, buy now, the store's info page and product images; and the
storefront's chrome for every page (the bottom tab bar with the cart count, static assets).

The product and category pages show the store's published product-detail / category template
(page builder, :mod:`mallow.builder.current`) when there is one, else the fixed pages. Both draw
the same plain data (:func:`product_detail_view`, :func:`buy_view`, :func:`category_view`,
:func:`listing_view`) with the same partial templates (``storefront/_product_detail.html``,
``_product_buy.html``, ``_category.html``, ``_refine.html``, ``_pager.html``,
``_product_grid.html``), so a template published without edits looks like the fixed page.

The product page's buy box (:func:`buy_view`, rendered on every request, never cached) carries the
sticky buy bar (店铺 · 客服 · 购物车 with its count | 加入购物车 · 立即购买), the option sheet's data
(one row of chips per spec dimension, each SKU's own picture (规格图) or none;
``platform/static/storefront/product.js`` enhances the
no-JavaScript form, which keeps working on its own) and the share data as JSON for a later
``wx.config`` step.

Imported at the end of :mod:`mallow.storefront.views`, so the routes join that blueprint (and
its "store not open" check) before it is registered.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import abort, current_app, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from mallow.catalog import categories, product_json, products, richtext, search, sku_images
from mallow.catalog.specs import spec_label
from mallow.money import MoneyError, fen_to_yuan, yuan_to_fen
from mallow.media.images import absolute_path
from mallow.web.blueprints import storefront as bp
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed

HOME_PRODUCTS = 20
#: products shown next to the category rail of the category index (the rest: "see all")
INDEX_PRODUCTS = 20
#: pages with a bottom bar of their own (buy bar, pay bar): no tab bar, whatever their template
#: says (pages opt out with an empty ``{% block tabbar %}``; these are covered either way)
TABBAR_HIDDEN = frozenset({"storefront.product", "storefront.checkout_page", "storefront.place_order",
                           "storefront.order_detail", "storefront.request_aftersale", "storefront.buy_now"})
#: endpoint words that mean "this page pays or checks out" (cashiers of any provider or plugin)
TABBAR_HIDDEN_WORDS = ("checkout", "cashier", "pay_", "_pay", "sandbox")
#: which tab a page belongs to (the tab shown as current)
TAB_OF = {"storefront.home": "home", "storefront.categories": "category", "storefront.category": "category",
          "storefront.cart": "cart", "storefront.account": "me", "storefront.orders_list": "me"}
#: other pages under 我的 (the shopper's own: profile, addresses, a plugin's centre)
ME_WORDS = ("account", "orders_list", "address", "profile", "distribution")
STATIC = Path(__file__).resolve().parents[1] / "static" / "storefront"
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


# -- the storefront's chrome: assets, tab bar, cart count ---------------------------------------

_asset_versions: dict[tuple[str, float], str] = {}


def asset_url(name: str) -> str:
    """``platform/static/storefront/<name>`` with a content hash (``?v=``) for cache busting."""
    path = STATIC / name
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return url_for("static", filename=f"storefront/{name}")
    version = _asset_versions.get((name, stamp))
    if version is None:
        version = _asset_versions[(name, stamp)] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return url_for("static", filename=f"storefront/{name}", v=version)


def current_shopper():
    """The signed-in shopper of this store on any storefront page (plugin pages too), or None."""
    from mallow.accounts.guards import principal

    return principal("shopper") if current_store() is not None else None


def cart_count() -> int:
    """How many items (quantities added up) the shopper's or the guest's cart holds; read once
    per request."""
    if "mallow_cart_count" not in g:
        from mallow.cart.service import find
        from mallow.orders import storefront_views as shopping

        shopper = current_shopper()
        cart = find(shopper.id, None) if shopper is not None else find(None, shopping._guest_token())
        g.mallow_cart_count = sum(item.quantity for item in cart.items) if cart is not None else 0
    return g.mallow_cart_count


def count_badge(count: int) -> str:
    return "" if count <= 0 else ("99+" if count > 99 else str(count))


def tabbar_hidden(endpoint: str | None) -> bool:
    endpoint = endpoint or ""
    return endpoint in TABBAR_HIDDEN or any(word in endpoint for word in TABBAR_HIDDEN_WORDS)


def tabs() -> list[dict]:
    """The bottom tab bar of this page: 首页 · 分类 · 购物车 (with the count) · 我的; none on a
    closed store and on pages with a bottom bar of their own."""
    store = current_store()
    if store is None or not store.is_open or tabbar_hidden(request.endpoint):
        return []
    count = cart_count()
    entries = [{"key": "home", "label": _("Home"), "url": url_for("storefront.home")},
               {"key": "category", "label": _("Browse"), "url": url_for("storefront.categories")},
               {"key": "cart", "label": _("Cart"), "url": url_for("storefront.cart"), "count": count,
                "badge": count_badge(count)},
               {"key": "me", "label": _("Me"), "url": url_for("storefront.account")}]
    endpoint = request.endpoint or ""
    current = TAB_OF.get(endpoint) or ("me" if any(word in endpoint for word in ME_WORDS) else None)
    for entry in entries:
        entry["current"] = entry["key"] == current
    return entries


@bp.app_context_processor
def storefront_chrome():
    return {"storefront_asset": asset_url, "storefront_shopper": current_shopper, "storefront_tabs": tabs}


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
    """Price, options with their stock, plugin slots, the add-to-cart form, the buy bar (with the
    cart's count) and the share data: changes with every sale and every shopper, so it is built
    for each request (never cached)."""
    from flask_wtf.csrf import generate_csrf
    from mallow.builder.console import json_for_script
    from mallow.plugins.web import template_slot

    skus = [sku for sku in product.skus if sku.active]
    chosen = next((sku for sku in skus if sku.stock > 0), None)
    price = product_json.min_price(product)
    cart = None
    if "storefront.add_to_cart" in current_app.view_functions:
        cart = {"action": url_for("storefront.add_to_cart"), "csrf_token": generate_csrf(),
                "buy_now": url_for("storefront.buy_now")}
    dims = [{"name": axis["name"], "values": [str(v) for v in axis["values"]]} for axis in (product.specs or [])
            if axis.get("name") and axis.get("values")]
    images = sorted(product.images, key=lambda image: image.sort)
    thumb = next((url for url in (image_url(i.thumb_path or i.path) for i in images) if url), None)
    photo = next((url for url in (image_url(i.path) for i in images) if url), None)
    assets = sku_images.assets_of(skus)
    pictures = {sku.id: image_url(sku_images.thumb_path(assets[sku.media_id])) if sku.media_id in assets else None
                for sku in skus}
    sku_rows = [{"id": sku.id, "image": pictures[sku.id],
                 "label": spec_label(sku.spec_values, product.specs) or _("Standard"),
                 "price": fen_to_yuan(sku.price), "stock": sku.stock, "soldout": sku.stock <= 0,
                 "market_price": fen_to_yuan(sku.market_price) if sku.market_price else None,
                 "values": [str((sku.spec_values or {}).get(d["name"], "")) for d in dims],
                 "checked": chosen is not None and sku.id == chosen.id} for sku in skus]
    count = cart_count() if cart is not None else 0
    store = current_store()
    share = {"title": product.title, "desc": product.subtitle or store.name,
             "link": url_for("storefront.product", product_id=product.id, _external=True),
             "imgUrl": url_for("storefront.media", name=media_name(images[0].path), _external=True)
             if images and media_name(images[0].path) else ""}
    picker = {"dims": dims, "skus": [{k: row[k] for k in ("id", "values", "price", "market_price", "stock", "label",
                                                          "image")} for row in sku_rows],
              "image": thumb or photo, "max": 999}
    # the option sheet's picture: the chosen SKU's own (规格图), else the product's first image
    sheet_image = (pictures.get(chosen.id) if chosen is not None else None) or thumb or photo \
        or next((url for url in pictures.values() if url), None)
    return {"product_id": product.id, "title": product.title,
            "price": fen_to_yuan(price) if price is not None else None,
            "price_varies": len({sku.price for sku in skus}) > 1,
            "market_price": fen_to_yuan(chosen.market_price) if chosen and chosen.market_price else None,
            "sales": product.sales, "chosen": chosen is not None, "cart": cart,
            "chosen_label": next((row["label"] for row in sku_rows if row["checked"]), ""),
            "chosen_stock": chosen.stock if chosen is not None else 0,
            "after_price": template_slot("product.after_price", product=product, skus=skus),
            "skus": sku_rows, "dims": dims, "image": sheet_image,
            "picker_json": json_for_script(picker), "share_json": json_for_script(share),
            "texts_json": json_for_script(_product_texts()),
            "cart_count": count, "cart_badge": count_badge(count),
            "links": {"home": url_for("storefront.home"), "service": url_for("storefront.store_info"),
                      "cart": url_for("storefront.cart")},
            "script": asset_url("product.js")}


def _product_texts() -> dict:
    """What product.js says, in the page's language (``{name}`` is filled in by the script)."""
    return {"close": _("Close"), "zoom": _("Zoom"), "previous": _("Previous"), "next": _("Next"),
            "photo_failed": _("The photo could not be loaded."), "sold_out": _("Sold out"),
            "in_stock": _("%(stock)s in stock", stock="{stock}"), "chosen": _("Chosen: %(option)s", option="{option}"),
            "choose": _("Choose %(names)s", names="{names}"), "copied": _("Link copied. Paste it to share."),
            "copy_by_hand": _("Copy this link to share it:"), "got_it": _("Got it"),
            "wechat_share": _("Tap ··· at the top right to send this page to a friend or share it to Moments.")}


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


@bp.get("/categories", endpoint="categories")
def categories_index():
    """分类: the top categories in a rail on the left, the products of the chosen one (``?c=``,
    else the first) on the right with its subcategories; plain links, no script."""
    top = [c for c, depth in categories.tree(active_only=True) if depth == 0]
    chosen = None
    raw = request.args.get("c", "")
    if raw:
        chosen = next((c for c in top if str(c.id) == raw), None)
        if chosen is None:
            abort(404)
    chosen = chosen or (top[0] if top else None)
    query = search.Query(category_id=chosen.id if chosen else None, per_page=INDEX_PRODUCTS)
    page = search.search(query)
    rail = [{"id": c.id, "name": c.name, "url": url_for("storefront.categories", c=c.id),
             "current": chosen is not None and c.id == chosen.id} for c in top]
    return render_template("storefront/categories.html", rail=rail,
                           chosen=category_view(chosen) if chosen else None,
                           all_url=url_for("storefront.category", category_id=chosen.id) if chosen
                           else url_for("storefront.search_page"),
                           products=product_cards(page), total=page.total)


@bp.get("/about")
def store_info():
    """The store's card: name, business information and how to reach it (the 客服 entry of the
    product page until the store has a chat)."""
    from mallow.qualifications import service

    store = current_store()
    licence = next((q for q in service.history(store.id) if q.status == "approved"), None)
    return render_template("storefront/store_info.html", licence=licence)


@bp.post("/buy")
def buy_now():
    """立即购买: the chosen option goes into the cart with exactly the chosen quantity, then straight
    to checkout (the sign-in page first for a guest, whose cart joins the shopper's). A refusal
    shows the cart with the reason, like adding to the cart."""
    from mallow.cart import service as carts
    from mallow.db import db
    from mallow.orders import storefront_views as shopping

    try:
        cart = shopping._current_cart(create=True)
        sku_id = (request.form.get("sku_id") or "").strip()
        for item in [i for i in cart.items if str(i.sku_id) == sku_id]:  # buy exactly the quantity chosen
            cart.items.remove(item)
        carts.add(cart, request.form.get("sku_id"), request.form.get("quantity", "1"))
    except ValidationFailed as failed:
        db.session.rollback()
        g.pop("mallow_new_cart_token", None)
        return shopping._render_cart(errors=failed)
    db.session.commit()
    return redirect(url_for("storefront.checkout_page")), 303


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
