"""Catalogue API, the merchant console's side: the store's products (any shelf status), their images,
categories and SKUs (staff of the store, bearer token). Money is integer fen."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import principal, staff_required
from mallow.api.catalog_shapes import (
    CATEGORY,
    CATEGORY_FIELDS,
    FEN,
    LIST_PARAMS,
    PRODUCT,
    PRODUCT_FIELDS,
    PRODUCT_PAGE,
    SKU_ROWS,
    VALIDATION,
    bad_query,
    image_url,
    page_json,
    query_param,
)
from mallow.api.registry import ID, obj, operation, returns
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
from mallow.media.library import BUSY_RESPONSE, NOT_OPEN_RESPONSE
from mallow.media.upload_limits import STORAGE_FULL_RESPONSE
from mallow.validation import ValidationFailed


@operation(
    "console_api",
    "GET",
    "/products",
    "listMerchantProducts",
    "Every product of the store (any shelf status), with the same search as listProducts",
    tag="catalogue",
    auth="merchant",
    parameters=LIST_PARAMS
    + [query_param("status", {"type": "string", "enum": ["draft", "on_shelf", "off_shelf"]}, "shelf status")],
    responses={"200": returns("A page of products", PRODUCT_PAGE), "400": "A bad query parameter, with field errors"},
)
@staff_required
def list_merchant_products():
    try:
        query = search.parse_query(request.args, console=True)
    except ValidationFailed as failed:
        return bad_query(failed)
    return jsonify(page_json(search.search(query, shopper=False), private=True))


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
    return jsonify(product_json.product_json(_product_or_404(product_id), image_url, private=True))


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
    return jsonify(product_json.product_json(product, image_url, private=True)), 201


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
    return jsonify(product_json.product_json(product, image_url, private=True))


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
        "507": STORAGE_FULL_RESPONSE,
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
    return jsonify(product_json.product_json(product, image_url, private=True)), 201


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
    return [_sku_row(sku, product, sku_images.image_json(assets.get(sku.media_id), image_url)) for sku, product in rows]


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
