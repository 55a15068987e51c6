"""The current product and the current category: what the product-detail and category
templates (page kinds ``product`` and ``category``) are rendered for.

* A *subject* is what a storefront route hands the renderer (``/products/<id>`` a
  :class:`ProductSubject`, ``/category/<id>`` a :class:`CategorySubject`; the editor's preview a
  sample of the store, :func:`sample`). It gives its part of the render-cache key, the page title,
  the HTTP status, and the parts filled in after the cache on every request
  (:func:`mallow.builder.render.late`): a product's price, options, stock, plugin slots and
  add-to-cart form (with the shopper's CSRF token) change without a catalogue write.
* :func:`resolve_product` and :func:`resolve_category` give the ``product_detail`` and
  ``category_products`` blocks their data: the same plain views the fixed pages draw
  (:mod:`mallow.builder.catalogue_views`), through the same partial templates.
* :func:`default_document`: a new template reproduces the fixed page, so publishing it without
  edits changes nothing a shopper sees.
"""

from __future__ import annotations

import sqlalchemy as sa
from mallow.builder.catalogue_views import buy_view, category_view, listing_view, parse_listing, product_detail_view
from mallow.builder.render import fill_late, late
from mallow.builder.themes import Theme, theme_set, translating
from mallow.catalog import categories
from mallow.catalog.models import Product
from mallow.db import db
from markupsafe import Markup

BUY_BOX = "product_buy"


class ProductSubject:
    kind = "product"
    status = 200

    def __init__(self, product):
        self.product = product

    @property
    def title(self) -> str:
        return self.product.title

    def cache_key(self) -> tuple:
        return ("product", self.product.id)

    def late_parts(self, theme: Theme) -> dict:
        template = theme_set().environment(theme.name).get_template("storefront/_product_buy.html")
        with translating():  # the buy box says a dozen messages: the translations found once
            return {BUY_BOX: Markup(template.render(buy=buy_view(self.product)))}


class CategorySubject:
    kind = "category"

    def __init__(self, category, args: dict):
        self.category = category
        self.args = args  # the listing's query parameters (filters, sort, page)
        _query, self.errors = parse_listing(args, category)

    @property
    def title(self) -> str:
        return self.category.name

    @property
    def status(self) -> int:
        return 400 if self.errors else 200

    def cache_key(self) -> tuple | None:
        """Per category and query; a refused query is rendered each time (never cached)."""
        return None if self.errors else ("category", self.category.id, tuple(sorted(self.args.items())))

    def late_parts(self, theme: Theme) -> dict:
        return {}


def fill(html, subject, theme: Theme) -> Markup:
    """``html`` with the subject's per-request parts in place."""
    return fill_late(html, subject.late_parts(theme) if subject is not None else {})


def sample(kind: str):
    """A real product / category of the store for the editor's preview, or None for the other
    kinds or an empty catalogue: the newest product (on the shelf first); the category of the
    newest on-shelf product (else the first shown category)."""
    if kind == "product":
        on_shelf_first = sa.case((Product.status == "on_shelf", 0), else_=1)
        found = db.session.execute(sa.select(Product).order_by(on_shelf_first, Product.id.desc()).limit(1)).scalar()
        return ProductSubject(found) if found is not None else None
    if kind == "category":
        shown = {c.id: c for c, _depth in categories.tree(active_only=True)}
        if not shown:
            return None
        newest = db.session.execute(
            sa.select(Product.category_id)
            .where(Product.status == "on_shelf", Product.category_id.in_(shown))
            .order_by(Product.id.desc())
            .limit(1)
        ).scalar()
        return CategorySubject(shown.get(newest) or next(iter(shown.values())), {})
    return None


# -- the blocks' data -------------------------------------------------------------------------


def resolve_product(block: dict, ctx) -> dict:
    subject = ctx.subject
    if not isinstance(subject, ProductSubject):
        return {"product": None}
    return {"product": product_detail_view(subject.product), "buy_box": late(BUY_BOX)}


def resolve_category(block: dict, ctx) -> dict:
    subject = ctx.subject
    if not isinstance(subject, CategorySubject):
        return {"category": None}
    found = subject.category
    return {
        "category": category_view(found),
        "listing": listing_view(
            subject.args, endpoint="storefront.category", view_args={"category_id": found.id}, category=found
        ),
    }


def default_document(kind: str) -> dict:
    """The first draft of a page of ``kind``: the fixed page's content for the two templates."""
    if kind == "product":
        return {"sections": {"product": {"type": "product_detail"}}, "order": ["product"]}
    if kind == "category":
        return {
            "sections": {"search": {"type": "search_bar"}, "products": {"type": "category_products"}},
            "order": ["search", "products"],
        }
    return {"sections": {}, "order": []}
