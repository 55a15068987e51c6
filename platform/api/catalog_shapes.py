"""The catalogue API's JSON shapes (request fields and response schemas; money is integer fen), its
listing query parameters, and the helpers its storefront and console operations share."""

from __future__ import annotations

from flask import jsonify

from mallow.api.registry import ID, NULLABLE_ID, nullable, obj, schema, shape, string
from mallow.catalog import categories, field_checks, product_images, product_json, search, specs
from mallow.catalog.images import media_name, media_url
from mallow.money import MAX_FEN
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


def query_param(name: str, schema: dict, description: str) -> dict:
    """An optional query parameter of a product listing."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


LIST_PARAMS = [
    query_param(
        "q",
        {"type": "string", "maxLength": search.MAX_QUERY},
        "keywords (all must match; Chinese substrings work, e.g. 山核桃)",
    ),
    query_param("category", ID, "a category id: its subcategories are included"),
    query_param("min_price", {"type": "integer", "minimum": 0}, "lowest price in fen"),
    query_param("max_price", {"type": "integer", "minimum": 0}, "highest price in fen"),
    query_param("sort", {"type": "string", "enum": list(search.SORT_KEYS), "default": "default"}, "order"),
    query_param("page", {"type": "integer", "minimum": 1, "default": 1}, "page number"),
    query_param(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": search.MAX_PER_PAGE, "default": search.DEFAULT_PER_PAGE},
        "items per page",
    ),
]


def image_url(path: str | None) -> str | None:
    """The absolute URL of a stored catalogue image (None without one)."""
    name = media_name(path)
    return media_url(name, external=True) if name else None


def page_json(page, *, private: bool) -> dict:
    """A page of product summaries (``private``: with the console's own fields): of
    :func:`~mallow.catalog.search.summaries`, or of loaded products (the console's list)."""
    return {
        "items": [
            product_json.summary_json(
                p if isinstance(p, search.Summary) else product_json.summary_of(p, page.min_prices.get(p.id)),
                image_url,
                private=private,
            )
            for p in page.items
        ],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
    }


def bad_query(failed: ValidationFailed):
    """A listing's bad query parameter: 400 with the field errors."""
    body = failed.as_json()
    body["error"] = "bad_request"
    return jsonify(body), 400
