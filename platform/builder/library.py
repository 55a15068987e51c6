"""The built-in block types (the palette of the editor): :data:`BUILTIN_TYPES`, declared here and
put into each app's block registry by ``mallow.builder.init_app``.

Each is a settings schema (see :mod:`mallow.builder.blocks`), a template
``blocks/<type>.html`` in the default theme, and, where it shows store data, a ``resolve``
function that adds that data for the template. Settings of kind image, product(s), category and
link are resolved for every type by the renderer (see :mod:`mallow.builder.render`).

``product_detail`` and ``category_products`` show the page's current product / category
(:mod:`mallow.builder.current`) and are limited to those page kinds (``page_kinds``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from mallow.builder import current
from mallow.catalog import search
from mallow.builder.blocks import (
    block_type,
    category,
    checkbox,
    choice,
    color,
    image,
    link,
    number,
    product,
    products,
    richtext,
    text,
    video_url,
)

PRODUCT_SOURCES = [
    ("category", _l("A category")),
    ("picked", _l("Hand-picked products")),
    ("best_sellers", _l("Best sellers")),
    ("newest", _l("Newest")),
]


def _product_grid(block: dict, ctx) -> dict:
    settings = block["settings"]
    count = settings["count"]
    source = settings["source"]
    if source == "picked":
        return {"products": settings["products"][:count]}
    if source == "category" and not settings["category"]:
        return {"products": []}
    category_id = settings["category"]["id"] if source == "category" else None
    sort = {"category": "default", "best_sellers": "sales", "newest": "newest"}[source]
    return {"products": ctx.search_products(category_id=category_id, sort=sort, count=count)}


def _product_grid_listings(settings: dict) -> list:
    """The listing :func:`_product_grid` will ask for (none for hand-picked products)."""
    source = settings.get("source")
    if source not in ("category", "best_sellers", "newest"):
        return []
    category_id = settings.get("category") if source == "category" else None
    if source == "category" and not isinstance(category_id, int):
        return []
    sort = {"category": "default", "best_sellers": "sales", "newest": "newest"}[source]
    return [search.Listing(category_id, sort, settings.get("count") or 6)]


def _store_info(block: dict, ctx) -> dict:
    return {"licence": ctx.licence() if block["settings"]["show_licence"] else None}


#: every built-in type, in palette order
BUILTIN_TYPES = (
    block_type(
        "carousel",
        label=_l("Image carousel"),
        icon="▣",
        group="media",
        builtin=True,
        settings={
            "aspect": choice(
                _l("Shape"),
                [("16:9", _l("Wide (16:9)")), ("2:1", _l("Banner (2:1)")), ("1:1", _l("Square (1:1)"))],
                "2:1",
            ),
            "rounded": checkbox(_l("Rounded corners"), True),
        },
        children={
            "slide": (
                _l("Slide"),
                {
                    "image": image(_l("Image")),
                    "link": link(_l("Link")),
                    "alt": text(_l("Description for screen readers"), max_length=80),
                },
            )
        },
        max_children=8,
    ),
    block_type(
        "image_nav",
        label=_l("Image navigation grid"),
        icon="▦",
        group="media",
        builtin=True,
        settings={"title": text(_l("Title")), "columns": number(_l("Columns"), 3, 5, 4)},
        children={
            "item": (
                _l("Entry"),
                {"image": image(_l("Image")), "label": text(_l("Label"), max_length=12), "link": link(_l("Link"))},
            )
        },
        max_children=15,
    ),
    block_type(
        "rich_text",
        label=_l("Rich text"),
        icon="¶",
        group="text",
        builtin=True,
        settings={
            "html": richtext(_l("Text"), default=""),
            "align": choice(_l("Alignment"), [("left", _l("Left")), ("center", _l("Centre"))], "left"),
        },
    ),
    block_type(
        "notice_bar",
        label=_l("Notice bar"),
        icon="※",
        group="text",
        builtin=True,
        settings={
            "text": text(_l("Notice"), max_length=120, default=_l("Free shipping on orders over ¥99")),
            "link": link(_l("Link")),
            "background": color(_l("Background colour"), "#fff7e6"),
            "color": color(_l("Text colour"), "#d46b08"),
        },
    ),
    block_type(
        "search_bar",
        label=_l("Search bar"),
        icon="◎",
        group="shop",
        builtin=True,
        settings={"placeholder": text(_l("Placeholder"), max_length=30, default=_l("Search this store"))},
    ),
    block_type(
        "product_grid",
        label=_l("Product grid"),
        icon="▤",
        group="shop",
        builtin=True,
        uses_catalogue=True,
        resolve=_product_grid,
        listings=_product_grid_listings,
        settings={
            "title": text(_l("Title"), default=_l("Recommended")),
            "source": choice(_l("Products from"), PRODUCT_SOURCES, "best_sellers"),
            "category": category(_l("Category")),
            "products": products(_l("Products"), max_items=20),
            "columns": number(_l("Columns"), 1, 3, 2),
            "count": number(_l("How many"), 1, 20, 6),
            "show_price": checkbox(_l("Show prices"), True),
        },
    ),
    block_type(
        "single_product",
        label=_l("Single product"),
        icon="◧",
        group="shop",
        builtin=True,
        uses_catalogue=True,
        settings={
            "product": product(_l("Product")),
            "button_text": text(_l("Button text"), max_length=12, default=_l("Buy now")),
            "show_subtitle": checkbox(_l("Show subtitle"), True),
        },
    ),
    block_type(
        "marketing_strip",
        label=_l("Coupon / marketing strip"),
        icon="◈",
        group="shop",
        builtin=True,
        settings={
            "title": text(_l("Title"), default=_l("Offers")),
            "background": color(_l("Background colour"), "#fff1f0"),
            "accent": color(_l("Accent colour"), "#e4393c"),
        },
        children={
            "offer": (
                _l("Offer"),
                {
                    "amount": text(_l("Big text"), max_length=10, default="¥20"),
                    "label": text(_l("Condition"), max_length=24, default=_l("Over ¥199")),
                    "link": link(_l("Link")),
                },
            )
        },
        max_children=4,
    ),
    block_type(
        "video",
        label=_l("Video"),
        icon="▶",
        group="media",
        builtin=True,
        settings={
            "url": video_url(_l("Video address (https)")),
            "poster": image(_l("Cover image")),
            "caption": text(_l("Caption"), max_length=80),
        },
    ),
    block_type(
        "spacer",
        label=_l("Spacer / divider"),
        icon="―",
        group="layout",
        builtin=True,
        settings={
            "height": number(_l("Height (px)"), 4, 96, 16),
            "divider": checkbox(_l("Show a line"), False),
            "color": color(_l("Line colour"), "#e5e6eb"),
        },
    ),
    block_type(
        "store_info",
        label=_l("Store info"),
        icon="ⓘ",
        group="layout",
        builtin=True,
        resolve=_store_info,
        settings={
            "intro": text(_l("Introduction"), max_length=200, multiline=True),
            "show_licence": checkbox(_l("Show business licence"), True),
        },
    ),
    block_type(
        "product_detail",
        label=_l("Product details"),
        icon="▥",
        group="shop",
        builtin=True,
        uses_catalogue=True,
        page_kinds=("product",),
        resolve=current.resolve_product,
        settings={
            "show_gallery": checkbox(_l("Show photos"), True),
            "show_category": checkbox(_l("Show the category"), True),
            "show_description": checkbox(_l("Show the description"), True),
        },
    ),
    block_type(
        "category_products",
        label=_l("Products of the category"),
        icon="▤",
        group="shop",
        builtin=True,
        uses_catalogue=True,
        page_kinds=("category",),
        resolve=current.resolve_category,
        settings={
            "show_title": checkbox(_l("Show the category name"), True),
            "show_subcategories": checkbox(_l("Show subcategories"), True),
        },
    ),
)
