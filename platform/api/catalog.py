"""Catalogue API: the storefront's products and categories (public), and the merchant console's
product, category and SKU operations (staff of the store, bearer token). Money is integer fen."""

from __future__ import annotations

from flask import abort, jsonify, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.api.registry import ID, NULLABLE_ID, nullable, obj, operation, returns, schema, shape, string
from mallow.catalog import (
    categories,
    field_checks,
    product_images,
    product_json,
    products,
    search,
    sku_bulk_edit,
    sku_images,
    specs,
)
from mallow.catalog.models import Sku
from mallow.inventory import stock
from mallow.money import MAX_FEN
from mallow.catalog.images import media_name
from mallow.media.library import BUSY_RESPONSE, NOT_OPEN_RESPONSE
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed

FEN = {"type": "integer", "minimum": 0, "maximum": MAX_FEN, "description": "fen (1 yuan = 100 fen)"}
NULLABLE_FEN = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_FEN, "description": "fen, or null"}
SPECS = {
    "type": "array",
    "maxItems": specs.MAX_AXES,
    "description": "spec axes; SKUs are their cartesian product",
    "items": obj(
        {
            "name": string(specs.SPEC_NAME_MAX),
            "values": {
                "type": "array",
                "minItems": 1,
                "maxItems": specs.MAX_VALUES,
                "items": string(specs.SPEC_VALUE_MAX),
            },
        },
        ["name", "values"],
    ),
}
SKU = obj(
    {
        "spec_values": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "the SKU's value for each spec axis ({} without specs)",
        },
        "price": FEN,
        "market_price": NULLABLE_FEN,
        "stock": {"type": "integer", "minimum": 0, "maximum": field_checks.MAX_STOCK},
        "weight_g": {"type": "integer", "minimum": 0, "maximum": field_checks.MAX_WEIGHT_G},
        "code": string(field_checks.CODE_MAX),
        "image": {
            **NULLABLE_ID,
            "description": "the SKU's own picture (规格图): the id of an image of the store's "
            "media library; null takes it away (the product's first image "
            "stands for the SKU); left out: kept",
        },
    }
)
PRODUCT_FIELDS = {
    "title": string(field_checks.TITLE_MAX, minLength=1),
    "subtitle": string(field_checks.SUBTITLE_MAX),
    "category_id": NULLABLE_ID,
    "description_html": {
        "type": "string",
        "maxLength": 200_000,
        "description": "HTML; sanitised (allow-listed tags, no scripts or event handlers)",
    },
    "video_url": {"type": ["string", "null"], "maxLength": field_checks.VIDEO_MAX, "description": "https only"},
    "specs": SPECS,
    "skus": {
        "type": "array",
        "maxItems": specs.MAX_SKUS,
        "items": SKU,
        "description": "one entry per combination of the specs (updated in place by their spec values)",
    },
    "status": {"type": "string", "enum": ["draft", "on_shelf", "off_shelf"]},
    "sort": {"type": "integer", "minimum": -1_000_000, "maximum": 1_000_000, "description": "higher comes first"},
    "shipping_template_id": {**NULLABLE_ID, "description": "null: the store's default template"},
    "media_ids": {
        "type": "array",
        "maxItems": product_images.MAX_IMAGES,
        "items": ID,
        "description": "ids of the store's media library images: the product's images become exactly "
        "these, in this order (the first is the cover)",
    },
}
CATEGORY_FIELDS = {
    "name": string(categories.NAME_MAX, minLength=1),
    "parent_id": NULLABLE_ID,
    "sort": {"type": "integer"},
    "active": {"type": "boolean"},
}
VALIDATION = {"$ref": "#/components/responses/ValidationFailed"}

# --- response schemas (prices in integer fen) -------------------------------------------------------
_INT, _TEXT = {"type": "integer"}, {"type": "string"}
_IMAGE = shape({"url": _TEXT, "thumb_url": _TEXT, "width": _INT, "height": _INT, "id": _INT}, optional=("id",))
_PRODUCT_SUMMARY = {
    "id": _INT,
    "title": _TEXT,
    "subtitle": _TEXT,
    "category_id": nullable(_INT),
    "min_price": nullable({**_INT, "description": "fen: the cheapest active SKU"}),
    "sales": _INT,
    "cover": nullable(_IMAGE),
    # the merchant console's own fields
    "status": {"type": "string", "enum": ["draft", "on_shelf", "off_shelf"]},
    "sort": _INT,
    "created_at": nullable(_TEXT),
    "updated_at": nullable(_TEXT),
}
_PRIVATE = ("status", "sort", "created_at", "updated_at")
_SKU_IMAGE = shape({"media_id": _INT, "url": _TEXT, "thumb_url": _TEXT, "width": _INT, "height": _INT})
_SKU = shape(
    {
        "id": _INT,
        "spec_values": {"type": "object"},
        "spec_key": _TEXT,
        "price": {**_INT, "description": "fen"},
        "market_price": nullable(_INT),
        "stock": _INT,
        "weight_g": _INT,
        "code": nullable(_TEXT),
        "active": {"type": "boolean"},
        "image": {
            **nullable(_SKU_IMAGE),
            "description": "the SKU's own picture (null: show the product's first image)",
        },
    },
    optional=("code", "active"),
)
PRODUCT = schema(
    "Product",
    shape(
        _PRODUCT_SUMMARY
        | {
            "description_html": _TEXT,
            "video_url": nullable(_TEXT),
            "specs": {"type": "array"},
            "shipping_template_id": nullable(_INT),
            "images": {"type": "array", "items": _IMAGE},
            "skus": {"type": "array", "items": _SKU},
        },
        optional=_PRIVATE,
    ),
)
PRODUCT_PAGE = schema(
    "ProductPage",
    shape(
        {
            "items": {"type": "array", "items": shape(_PRODUCT_SUMMARY, optional=_PRIVATE)},
            "total": _INT,
            "page": _INT,
            "per_page": _INT,
            "pages": _INT,
        }
    ),
)
CATEGORY = schema(
    "ProductCategory",
    shape({"id": _INT, "name": _TEXT, "parent_id": nullable(_INT), "sort": _INT, "active": {"type": "boolean"}}),
)
CATEGORY_NODE = schema(
    "ProductCategoryTreeNode",
    {
        "allOf": [CATEGORY],
        **shape({"children": {"type": "array", "items": {"$ref": "#/components/schemas/ProductCategoryTreeNode"}}}),
    },
)
CATEGORY_TREE = schema("ProductCategoryTree", shape({"items": {"type": "array", "items": CATEGORY_NODE}}))
SKU_ROWS = schema(
    "SkuRows",
    shape(
        {
            "items": {
                "type": "array",
                "items": {
                    "allOf": [_SKU],
                    **shape(
                        {"product_id": _INT, "product_title": _TEXT, "label": _TEXT},
                        optional=("product_title", "label"),
                    ),
                },
            },
            "threshold": {**_INT, "description": "listLowStock: the store's low-stock threshold"},
        },
        optional=("threshold",),
    ),
)
NOT_OPEN = "The store is not open yet"


def _query_param(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


LIST_PARAMS = [
    _query_param(
        "q",
        {"type": "string", "maxLength": search.MAX_QUERY},
        "keywords (all must match; Chinese substrings work, e.g. 山核桃)",
    ),
    _query_param("category", ID, "a category id: its subcategories are included"),
    _query_param("min_price", {"type": "integer", "minimum": 0}, "lowest price in fen"),
    _query_param("max_price", {"type": "integer", "minimum": 0}, "highest price in fen"),
    _query_param("sort", {"type": "string", "enum": list(search.SORT_KEYS), "default": "default"}, "order"),
    _query_param("page", {"type": "integer", "minimum": 1, "default": 1}, "page number"),
    _query_param(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": search.MAX_PER_PAGE, "default": search.DEFAULT_PER_PAGE},
        "items per page",
    ),
]


def _image_url(path: str | None) -> str | None:
    name = media_name(path)
    return url_for("storefront.media", name=name, _external=True) if name else None


def _page_json(page, *, private: bool) -> dict:
    return {
        "items": [
            product_json.product_json(p, _image_url, private=private, summary=True, price=page.min_prices.get(p.id))
            for p in page.items
        ],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
    }


def _bad_query(failed: ValidationFailed):
    body = failed.as_json()
    body["error"] = "bad_request"
    return jsonify(body), 400


def _open_store_only():
    if not current_store().is_open:
        return jsonify(error="store_not_open", message=_("This store is not open yet.")), 503
    return None


# -- storefront (public) ----------------------------------------------------------------------


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
def list_products():
    closed = _open_store_only()
    if closed:
        return closed
    try:
        query = search.parse_query(request.args)
    except ValidationFailed as failed:
        return _bad_query(failed)
    return jsonify(_page_json(search.search(query), private=False))


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
def get_product(product_id):
    closed = _open_store_only()
    if closed:
        return closed
    product = products.get(product_id, shopper=True)
    if product is None:
        abort(404)
    return jsonify(product_json.product_json(product, _image_url))


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
def list_product_categories():
    closed = _open_store_only()
    if closed:
        return closed
    return jsonify(items=categories.nested(active_only=True))


# -- merchant console -------------------------------------------------------------------------


@operation(
    "console_api",
    "GET",
    "/products",
    "listMerchantProducts",
    "Every product of the store (any shelf status), with the same search as listProducts",
    tag="catalogue",
    auth="merchant",
    parameters=LIST_PARAMS
    + [_query_param("status", {"type": "string", "enum": ["draft", "on_shelf", "off_shelf"]}, "shelf status")],
    responses={"200": returns("A page of products", PRODUCT_PAGE), "400": "A bad query parameter, with field errors"},
)
@staff_required
def list_merchant_products():
    try:
        query = search.parse_query(request.args, console=True)
    except ValidationFailed as failed:
        return _bad_query(failed)
    return jsonify(_page_json(search.search(query, shopper=False), private=True))


def _product_or_404(product_id):
    product = products.get(product_id)
    if product is None:
        abort(404)
    return product


@operation(
    "console_api",
    "GET",
    "/products/<int:product_id>",
    "getMerchantProduct",
    "One product with every SKU (inactive ones too) and their codes",
    tag="catalogue",
    auth="merchant",
    responses={"200": returns("The product", PRODUCT), "404": "No such product"},
)
@staff_required
def get_merchant_product(product_id):
    return jsonify(product_json.product_json(_product_or_404(product_id), _image_url, private=True))


@operation(
    "console_api",
    "POST",
    "/products",
    "createProduct",
    "Create a product with its specs and one SKU per combination (prices in fen)",
    tag="catalogue",
    auth="merchant",
    body=obj(PRODUCT_FIELDS, ["title", "skus"]),
    responses={"201": returns("The product", PRODUCT), "422": VALIDATION},
)
@staff_required
def create_product():
    product = products.create(request.get_json(), actor=principal("merchant"))
    return jsonify(product_json.product_json(product, _image_url, private=True)), 201


@operation(
    "console_api",
    "PATCH",
    "/products/<int:product_id>",
    "updateProduct",
    "Change the given fields; SKUs are matched by their spec values and updated in place (ids kept), "
    "combinations no longer in the specs are deactivated",
    tag="catalogue",
    auth="merchant",
    body=obj(PRODUCT_FIELDS),
    responses={
        "200": returns("The product", PRODUCT),
        "404": "No such product",
        "409": "Shelf status change not allowed",
        "422": VALIDATION,
    },
)
@staff_required
def update_product(product_id):
    product = products.update(_product_or_404(product_id), request.get_json(), actor=principal("merchant"))
    return jsonify(product_json.product_json(product, _image_url, private=True))


@operation(
    "console_api",
    "POST",
    "/products/<int:product_id>/images",
    "uploadProductImage",
    "Add images (JPEG, PNG or WebP; re-encoded, 320 px thumbnail; at most 9 per product); "
    "they join the store's media library",
    tag="catalogue",
    auth="merchant",
    body_type="multipart/form-data",
    body={
        "type": "object",
        "required": ["image"],
        "properties": {"image": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    },
    responses={
        "201": returns("The product", PRODUCT),
        "404": "No such product",
        "409": NOT_OPEN_RESPONSE,
        "422": VALIDATION,
        "503": BUSY_RESPONSE,
    },
)
@staff_required
def upload_product_image(product_id):
    product = _product_or_404(product_id)
    files = request.files.getlist("image")
    if not files:
        raise ValidationFailed({"image": ("required", _("Upload a photo or scan (JPEG, PNG or WebP)."))})
    try:
        products.update(product, {}, actor=principal("merchant"), uploads=files)
    except ValidationFailed as failed:
        raise ValidationFailed({("image" if k == "images" else k): v for k, v in failed.errors.items()}) from None
    return jsonify(product_json.product_json(product, _image_url, private=True)), 201


@operation(
    "console_api",
    "DELETE",
    "/products/<int:product_id>/images/<int:image_id>",
    "deleteProductImage",
    "Remove one image of a product (it stays in the media library)",
    tag="catalogue",
    auth="merchant",
    responses={"204": "Removed", "404": "No such product or image"},
)
@staff_required
def delete_product_image(product_id, image_id):
    if not product_images.remove_image(_product_or_404(product_id), image_id, actor=principal("merchant")):
        abort(404)
    return "", 204


@operation(
    "console_api",
    "POST",
    "/categories",
    "createCategory",
    "Add a product category (optionally under a parent)",
    tag="catalogue",
    auth="merchant",
    body=obj(CATEGORY_FIELDS, ["name"]),
    responses={"201": returns("The category", CATEGORY), "422": VALIDATION},
)
@staff_required
def create_category():
    category = categories.create(request.get_json(), actor=principal("merchant"))
    return jsonify(categories.category_json(category)), 201


def _category_or_404(category_id):
    category = categories.get(category_id)
    if category is None:
        abort(404)
    return category


@operation(
    "console_api",
    "PATCH",
    "/categories/<int:category_id>",
    "updateProductCategory",
    "Rename, move (no cycles), reorder, show or hide a category",
    tag="catalogue",
    auth="merchant",
    body=obj(CATEGORY_FIELDS),
    responses={"200": returns("The category", CATEGORY), "404": "No such category", "422": VALIDATION},
)
@staff_required
def update_category(category_id):
    category = categories.update(_category_or_404(category_id), request.get_json(), actor=principal("merchant"))
    return jsonify(categories.category_json(category))


@operation(
    "console_api",
    "DELETE",
    "/categories/<int:category_id>",
    "deleteProductCategory",
    "Delete a category that has no products and no subcategories",
    tag="catalogue",
    auth="merchant",
    responses={"204": "Deleted", "404": "No such category", "422": VALIDATION},
)
@staff_required
def delete_category(category_id):
    categories.delete(_category_or_404(category_id), actor=principal("merchant"))
    return "", 204


@operation(
    "console_api",
    "POST",
    "/skus/bulk",
    "bulkUpdateSkus",
    "Set the price and/or stock of many SKUs at once: all are saved, or none (field errors name items.<i>)",
    tag="catalogue",
    auth="merchant",
    body=obj(
        {
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": sku_bulk_edit.MAX_BULK,
                "items": obj(
                    {
                        "sku_id": ID,
                        "price": FEN,
                        "stock": {"type": "integer", "minimum": 0, "maximum": field_checks.MAX_STOCK},
                    },
                    ["sku_id"],
                ),
            }
        },
        ["items"],
    ),
    responses={"200": returns("The updated SKUs", SKU_ROWS), "422": VALIDATION},
)
@staff_required
def bulk_update_skus():
    skus = sku_bulk_edit.bulk_update_skus(request.get_json()["items"], actor=principal("merchant"))
    return jsonify(items=_sku_rows([(sku, None) for sku in skus]))


def _sku_rows(rows: list[tuple[Sku, object]]) -> list[dict]:
    assets = sku_images.assets_of([sku for sku, _product in rows])
    return [
        _sku_row(sku, product, sku_images.image_json(assets.get(sku.media_id), _image_url)) for sku, product in rows
    ]


def _sku_row(sku: Sku, product, image: dict | None) -> dict:
    data = product_json.sku_json(sku, private=True, image=image)
    data["product_id"] = sku.product_id
    if product is not None:
        data["product_title"] = product.title
        data["label"] = specs.spec_label(sku.spec_values or {}, product.specs)
    return data


@operation(
    "console_api",
    "GET",
    "/skus/low-stock",
    "listLowStock",
    "Active SKUs below the store's low-stock threshold, fewest first",
    tag="catalogue",
    auth="merchant",
    responses={"200": returns("The threshold and the SKUs", SKU_ROWS)},
)
@staff_required
def list_low_stock():
    threshold, rows = stock.low_stock()
    return jsonify(threshold=threshold, items=_sku_rows(rows))
