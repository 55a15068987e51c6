"""Catalogue API, the storefront's side: the store's on-shelf products and its categories (public).
Money is integer fen.

The three reads are the same for every caller (no price or field depends on who asks), so an
anonymous caller's 200 is kept like a storefront page (:func:`mallow.edge.cacheable`): the front
door answers the next one with the same path, query and language from memory while the store's
stamp holds (any catalogue write moves it). A caller with a bearer token or a personal cookie
always reaches the view; a bad query's 400 is never kept."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_babel import gettext as _

from mallow.api.catalog_shapes import (
    CATEGORY_TREE,
    LIST_PARAMS,
    NOT_OPEN,
    PRODUCT,
    PRODUCT_PAGE,
    bad_query,
    image_url,
    page_json,
)
from mallow.api.registry import operation, returns
from mallow.catalog import categories, product_json, products, search
from mallow.edge import cacheable
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed


def _open_store_only():
    if not current_store().is_open:
        return jsonify(error="store_not_open", message=_("This store is not open yet.")), 503
    return None


@operation(
    "store_api",
    "GET",
    "/products",
    "listProducts",
    "On-shelf products: keyword search, category (with subcategories), price range, sort, pages",
    tag="catalogue",
    auth=None,
    parameters=LIST_PARAMS,
    responses={
        "200": returns("A page of products (prices in fen) and the total count", PRODUCT_PAGE),
        "400": "A bad query parameter (e.g. an unknown sort key), with field errors",
        "503": NOT_OPEN,
    },
)
@cacheable
def list_products():
    closed = _open_store_only()
    if closed:
        return closed
    try:
        query = search.parse_query(request.args)
    except ValidationFailed as failed:
        return bad_query(failed)
    return jsonify(page_json(search.summaries(query), private=False))


@operation(
    "store_api",
    "GET",
    "/products/<int:product_id>",
    "getProduct",
    "One on-shelf product with its images, description and active SKUs",
    tag="catalogue",
    auth=None,
    responses={"200": returns("The product", PRODUCT), "404": "No such product on sale", "503": NOT_OPEN},
)
@cacheable
def get_product(product_id):
    closed = _open_store_only()
    if closed:
        return closed
    product = products.get(product_id, shopper=True)
    if product is None:
        abort(404)
    return jsonify(product_json.product_json(product, image_url))


@operation(
    "store_api",
    "GET",
    "/categories",
    "listProductCategories",
    "The store's shown product categories as a tree",
    tag="catalogue",
    auth=None,
    responses={"200": returns("The tree", CATEGORY_TREE), "503": NOT_OPEN},
)
@cacheable
def list_product_categories():
    closed = _open_store_only()
    if closed:
        return closed
    return jsonify(items=categories.nested(active_only=True))
