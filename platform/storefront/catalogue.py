"""Storefront catalogue pages (routes on the ``storefront`` blueprint): search, a category, the
category index (分类), a product, the store's info page and the product pictures.

The product and category pages show the store's published product-detail / category template
(page builder, :mod:`mallow.builder.current`) when there is one, else the fixed pages. Both draw
the same plain data (:mod:`mallow.builder.catalogue_views`) with the same partial templates, so a
template published without edits looks like the fixed page.
"""

from __future__ import annotations

from flask import abort, render_template, request, send_file, url_for

from mallow.builder.catalogue_views import (
    buy_view,
    category_view,
    listing_args,
    listing_view,
    product_cards,
    product_detail_view,
)
from mallow.builder.current import CategorySubject, ProductSubject
from mallow.builder.storefront import published_page_response
from mallow.catalog import categories, products, search
from mallow.edge import cacheable
from mallow.catalog.images import MEDIA_NAME
from mallow.media.images import absolute_path
from mallow.qualifications import service as qualifications
from mallow.tenants.context import current_store
from mallow.web.blueprints import storefront as bp

HOME_PRODUCTS = 20
#: products shown next to the category rail of the category index (the rest: "see all")
INDEX_PRODUCTS = 20


def home_context() -> dict:
    """What the home page shows of the catalogue: the first on-shelf products, top categories."""
    page = search.summaries(search.Query(per_page=HOME_PRODUCTS))
    top = [c for c, depth in categories.tree(active_only=True) if depth == 0]
    return {"products": product_cards(page), "total_products": page.total, "categories": top}


@bp.get("/search")
@cacheable
def search_page():
    listing = listing_view(listing_args(request.args), endpoint="storefront.search_page", with_categories=True)
    return render_template("storefront/search.html", listing=listing), 400 if listing["errors"] else 200


@bp.get("/category/<int:category_id>")
@cacheable
def category(category_id):
    found = categories.visible(category_id)
    if found is None:
        abort(404)
    subject = CategorySubject(found, listing_args(request.args))
    built = published_page_response("category", subject=subject)  # the store's template, if it has one
    if built is not None:
        return built
    listing = listing_view(
        subject.args, endpoint="storefront.category", view_args={"category_id": found.id}, category=found
    )
    return render_template("storefront/category.html", category=category_view(found), listing=listing), subject.status


@bp.get("/categories", endpoint="categories")
@cacheable
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
    page = search.summaries(query)
    rail = [
        {
            "id": c.id,
            "name": c.name,
            "url": url_for("storefront.categories", c=c.id),
            "current": chosen is not None and c.id == chosen.id,
        }
        for c in top
    ]
    return render_template(
        "storefront/categories.html",
        rail=rail,
        chosen=category_view(chosen) if chosen else None,
        all_url=url_for("storefront.category", category_id=chosen.id) if chosen else url_for("storefront.search_page"),
        products=product_cards(page),
        total=page.total,
    )


@bp.get("/about")
@cacheable
def store_info():
    """The store's card: name, business information and how to reach it (the 客服 entry of the
    product page until the store has a chat)."""
    store = current_store()
    licence = next((q for q in qualifications.history(store.id) if q.status == "approved"), None)
    return render_template("storefront/store_info.html", licence=licence)


@bp.get("/products/<int:product_id>")
@cacheable
def product(product_id):
    found = products.get(product_id, shopper=True)
    if found is None:
        abort(404)
    built = published_page_response("product", subject=ProductSubject(found))  # the store's template, if any
    if built is not None:
        return built
    return render_template("storefront/product.html", detail=product_detail_view(found), buy=buy_view(found))


@bp.get("/media/<path:name>")
def media(name):
    """A product image of this store (names are random and never reused: cached for a year)."""
    if not MEDIA_NAME.match(name):
        abort(404)
    path = absolute_path(f"uploads/stores/{current_store().id}/{name}")
    if path is None:
        abort(404)
    response = send_file(path, max_age=365 * 86400)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
