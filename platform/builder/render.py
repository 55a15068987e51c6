"""Rendering a page document through a theme: data first, then sandboxed templates.

1. Collect every media, product and category id the document's settings name (by their
   ``x-editor`` hint) and load each kind in one query: products only when on the shelf,
   categories only when shown, images only from this store's library.
2. Resolve each block's settings into plain data for the template: an image id becomes
   ``{src, srcset, width, height}``, a product id a product dict, a link an ``href`` (store
   paths are put under the store's address; a mini-program page path has no web address and
   becomes ""), rich text sanitised markup. A block type's ``resolve`` adds its own data.
3. Render ``blocks/<type>.html`` of the theme (falling back to the default theme) for each
   block in the sandbox, wrap it in ``<section data-block-id=…>``, and put the blocks into
   ``pages/<kind>.html`` (else ``pages/page.html``).

A block whose type is no longer registered, or whose template fails, is left out (logged):
one bad block never takes the page down.

The product-detail and category templates render for a *subject* (the current product or
category, see :mod:`mallow.builder.current`), which resolvers read as ``ctx.subject``. What must
be fresh on every request (stock, the CSRF token, plugin slots) is left in the render as a
marker, :func:`late`, that :func:`fill_late` replaces after the render cache.
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
from dataclasses import dataclass, field
from functools import cache

import sqlalchemy as sa
from flask import url_for
from mallow.builder import blocks
from flask_babel import get_locale
from mallow.builder.themes import DEFAULT, Theme, theme_set, translating
from mallow.catalog import richtext, search
from mallow.catalog.images import media_name
from mallow.catalog.models import ProductCategory
from mallow.db import db
from mallow.media import library as media_library
from mallow.media.models import MediaAsset
from mallow.money import fen_to_yuan
from mallow.qualifications.models import Qualification
from markupsafe import Markup

log = logging.getLogger(__name__)
PRODUCT_THUMB = 320
#: markers carry a per-process secret: page data (escaped text, sanitised rich text without
#: comments) can never forge one
_LATE_SECRET = secrets.token_hex(8)
_LATE = re.compile(r"<!--mallow-late:([a-z][a-z0-9_]{0,39}):" + _LATE_SECRET + "-->")


def late(name: str) -> Markup:
    """A marker for a part of the page that is filled in per request (after the render cache)."""
    return Markup(f"<!--mallow-late:{name}:{_LATE_SECRET}-->")


def fill_late(html, parts: dict) -> Markup:
    """``html`` with each :func:`late` marker replaced by ``parts[name]`` (markup; a part not
    given becomes nothing)."""
    html = str(html)
    if "<!--mallow-late:" not in html:
        return Markup(html)
    return Markup(_LATE.sub(lambda m: str(parts.get(m.group(1), "")), html))


@dataclass
class Rendered:
    html: Markup
    #: ``[(block id, type, html)]`` in page order (the editor's preview uses them one by one)
    blocks: list = field(default_factory=list)
    uses_catalogue: bool = False


# -- data -------------------------------------------------------------------------------------


def _walk(document: dict):
    """``(schemas, settings)`` of every block and child block of ``document``."""
    for section_id in document.get("order", []):
        section = document["sections"].get(section_id)
        block_type = blocks.get(section.get("type")) if section else None
        if block_type is None:
            continue
        yield block_type.settings, section.get("settings", {})
        for child_id in section.get("block_order", []):
            child = section.get("blocks", {}).get(child_id)
            child_type = block_type.children.get(child.get("type")) if child else None
            if child_type is not None:
                yield child_type.settings, child.get("settings", {})


def collect_references(document: dict) -> dict[str, set]:
    found = {"image": set(), "product": set(), "category": set()}
    for schemas, settings in _walk(document):
        for name, schema in schemas.items():
            value = settings.get(name)
            editor = schema.get("x-editor")
            if editor in ("image", "product", "category") and isinstance(value, int):
                found[editor].add(value)
            elif editor == "products" and isinstance(value, list):
                found["product"].update(v for v in value if isinstance(v, int))
    return found


def media_view(asset) -> dict:
    full = media_library.url(asset.path)
    widths = sorted((int(w), path) for w, path in (asset.thumbnails or {}).items() if int(w) < asset.width)
    srcset = ", ".join([f"{media_library.url(path)} {w}w" for w, path in widths] + [f"{full} {asset.width}w"])
    src = next((media_library.url(path) for w, path in widths if w >= 750), full)
    return {"id": asset.id, "src": src, "srcset": srcset, "width": asset.width, "height": asset.height}


class ProductUrls:
    """Product and product-image addresses of the active store, built by ``url_for`` once per
    render and then filled in (a page lists dozens of products)."""

    MARK = "987654321"

    def __init__(self):
        self.product = url_for("storefront.product", product_id=int(self.MARK))
        self.media = url_for("storefront.media", name=self.MARK)
        self.media_name = media_name

    def product_url(self, product_id: int) -> str:
        return self.product.replace(self.MARK, str(int(product_id)))

    def image_url(self, path: str | None) -> str | None:
        name = self.media_name(path)
        return self.media.replace(self.MARK, name) if name else None


def product_view(product, price: int | None, urls: ProductUrls | None = None) -> dict:
    """A product card: ``product`` is a :class:`~mallow.catalog.search.Summary` (its cover
    loaded with it) or a ``Product`` row (its first image)."""
    urls = urls or ProductUrls()
    if isinstance(product, search.Summary):
        cover = product.cover
    else:
        cover = min(product.images, key=lambda i: i.sort) if product.images else None
    image = None
    if cover is not None:
        width = min(cover.width, PRODUCT_THUMB)
        thumb, full = urls.image_url(cover.thumb_path), urls.image_url(cover.path)
        if thumb and full:
            srcset = f"{thumb} {width}w" + (f", {full} {cover.width}w" if cover.width > PRODUCT_THUMB else "")
            image = {
                "src": thumb,
                "srcset": srcset,
                "width": width,
                "height": max(1, round(cover.height * width / cover.width)),
            }
    return {
        "id": product.id,
        "title": product.title,
        "subtitle": product.subtitle or "",
        "url": urls.product_url(product.id),
        "price": fen_to_yuan(price) if price is not None else None,
        "image": image,
    }


class RenderContext:
    """What resolvers may use: the loaded references, the page's subject (the current product or
    category, or None) and a few queries of the active store."""

    def __init__(self, store, references: dict[str, set], subject=None):
        self.store = store
        self.subject = subject
        self.urls = ProductUrls()
        self.media = {}
        if references["image"]:  # plain rows: the columns a view needs, no ORM objects
            rows = db.session.execute(_media_statement(), {"ids": sorted(references["image"])}).all()
            self.media = {row.id: media_view(row) for row in rows}
        self.products = self._load_products(references["product"]) if references["product"] else {}
        self.categories = {}
        if references["category"]:
            rows = db.session.execute(
                sa.select(ProductCategory.id, ProductCategory.name).where(
                    ProductCategory.id.in_(sorted(references["category"])), ProductCategory.active.is_(True)
                )
            ).all()
            self.categories = {
                c.id: {"id": c.id, "name": c.name, "url": url_for("storefront.category", category_id=c.id)}
                for c in rows
            }
        self.home_url = url_for("storefront.home")
        self._root = self.home_url.rstrip("/")

    def _load_products(self, ids) -> dict:
        """On-shelf products with an active SKU, with their lowest price and cover (two queries)."""
        found = search.on_shelf_summaries(ids)
        return {
            product_id: product_view(summary, summary.min_price, self.urls) for product_id, summary in found.items()
        }

    def search_products(self, *, category_id: int | None = None, sort: str = "default", count: int = 6) -> list[dict]:
        """On-shelf products through the catalogue's own search (category includes subcategories),
        as summaries: the listed columns and the covers, no ORM rows."""
        page = search.summaries(search.Query(category_id=category_id, sort=sort, per_page=count))
        return [product_view(p, p.min_price, self.urls) for p in page.items]

    def licence(self) -> dict | None:
        """The store's newest approved qualification (the licence it trades under), or None."""
        approved = db.session.execute(_licence_statement(), {"store_id": self.store.id}).first()
        return {"legal_name": approved.legal_name, "uscc": approved.uscc} if approved else None

    def href(self, value: str) -> str:
        if not value:
            return ""
        if value.lower().startswith(("http://", "https://")):
            return value
        if value.startswith("/"):
            return self._root + value
        return ""  # a mini-program page path: nothing to open on the web

    def resolve_settings(self, schemas: dict, settings: dict) -> dict:
        view = {}
        defaults = None
        for name, schema in schemas.items():
            if name in settings:
                value = settings[name]
            else:  # the schema's default, its translatable texts in the request's language
                if defaults is None:
                    defaults = _defaults(schemas)
                value = defaults[name]
                if isinstance(value, (list, dict)):  # the kept default stays as it is
                    value = copy.deepcopy(value)
            editor = schema.get("x-editor")
            if editor == "image":
                value = self.media.get(value) if value else None
            elif editor == "product":
                value = self.products.get(value) if value else None
            elif editor == "products":
                value = [self.products[v] for v in value or [] if v in self.products]
            elif editor == "category":
                value = self.categories.get(value) if value else None
            elif editor == "link":
                value = self.href(value)
            elif editor == "richtext":
                value = Markup(richtext.sanitise_kept(value))
            view[name] = value
        return view


@cache
def _media_statement() -> sa.Select:
    """The library images a page shows: the columns a view needs, no ORM objects; built once
    (building a statement costs more than running it), the ids bound when it runs."""
    columns = (MediaAsset.id, MediaAsset.path, MediaAsset.thumbnails, MediaAsset.width, MediaAsset.height)
    return sa.select(*columns).where(MediaAsset.id.in_(sa.bindparam("ids", expanding=True)))


@cache
def _licence_statement() -> sa.Select:
    """A store's newest approved qualification: the licence it trades under."""
    return (
        sa.select(Qualification.legal_name, Qualification.uscc)
        .where(Qualification.store_id == sa.bindparam("store_id"), Qualification.status == "approved")
        .order_by(Qualification.revision.desc())
        .limit(1)
    )


#: ``{(id of a settings schema, locale): {name: default}}``: the schemas live as long as the app
#: (block types are registered once; a replaced type brings new dicts), texts differ per language
_DEFAULTS: dict[tuple[int, str], tuple[dict, dict]] = {}


def _defaults(schemas: dict) -> dict:
    """The defaults of a block type's settings as plain values (lazy texts translated), kept per
    schema and language: the defaults of a page's blocks are the same on every render."""
    key = (id(schemas), str(get_locale()))
    kept = _DEFAULTS.get(key)
    if kept is None or kept[0] is not schemas:  # a schema of the same id made later: not ours
        if len(_DEFAULTS) > 2000:
            _DEFAULTS.clear()
        kept = _DEFAULTS[key] = (schemas, {name: blocks.plain(s.get("default")) for name, s in schemas.items()})
    return kept[1]


# -- templates --------------------------------------------------------------------------------


def _block_view(block_id: str, section: dict, block_type, ctx: RenderContext) -> dict:
    children = []
    for child_id in section.get("block_order", []):
        child = section.get("blocks", {}).get(child_id)
        child_type = block_type.children.get(child.get("type")) if child else None
        if child_type is not None:
            children.append(
                {
                    "id": child_id,
                    "type": child_type.name,
                    "settings": ctx.resolve_settings(child_type.settings, child.get("settings", {})),
                }
            )
    view = {
        "id": block_id,
        "type": block_type.name,
        "settings": ctx.resolve_settings(block_type.settings, section.get("settings", {})),
        "blocks": children,
    }
    view["data"] = block_type.resolve(view, ctx) if block_type.resolve else {}
    return view


def render_document(
    document: dict,
    *,
    kind: str,
    theme: Theme,
    theme_settings: dict,
    store,
    title: str = "",
    preview: bool = False,
    subject=None,
) -> Rendered:
    """Render ``document`` (already validated) for the active store through ``theme``;
    ``subject`` is the current product or category of those templates."""
    env = theme_set().environment(theme.name)
    ctx = RenderContext(store, collect_references(document), subject)
    style, classes = theme.css(theme_settings)
    common = {
        "theme": {"name": theme.name, "settings": dict(theme_settings)},
        "editing": preview,
        "store": {
            "name": store.name,
            "home_url": ctx.home_url,
            "search_url": url_for("storefront.search_page"),
        },
        "page": {"kind": kind, "title": title},
    }
    with translating():
        return _render_blocks(document, kind, theme, env, ctx, common, style, classes, preview)


def _render_blocks(document, kind, theme, env, ctx, common, style, classes, preview) -> Rendered:
    from flask_babel import gettext as _

    rendered = Rendered(Markup(""))
    for block_id in document.get("order", []):
        section = document.get("sections", {}).get(block_id) or {}
        block_type = blocks.available(section.get("type", ""))
        if block_type is None:
            continue
        rendered.uses_catalogue = rendered.uses_catalogue or block_type.uses_catalogue
        try:
            view = _block_view(block_id, section, block_type, ctx)
            inner = env.get_template(block_type.template).render(block=view, **common)
        except Exception:  # a broken theme or plugin block: leave it out, keep the page
            log.exception("block %s (%s) of theme %s failed to render", block_id, block_type.name, theme.name)
            inner = Markup('<p class="mb-failed">%s</p>') % _("This block could not be shown.") if preview else ""
        html = Markup('<section class="mb mb-%s" data-block-id="%s" data-block-type="%s">%s</section>') % (
            block_type.name.replace("_", "-"),
            block_id,
            block_type.name,
            Markup(inner),
        )
        rendered.blocks.append((block_id, block_type.name, str(html)))
    page_template = env.select_template([f"pages/{kind}.html", "pages/page.html"])
    body = page_template.render(blocks=[Markup(b[2]) for b in rendered.blocks], style=style, classes=classes, **common)
    rendered.html = Markup(body)
    return rendered


def stylesheet_urls(theme: Theme) -> list[str]:
    """The default theme's stylesheet, then the theme's own (styles fall back like templates)."""
    chain = [theme_set().get(DEFAULT)] + ([theme] if theme.name != DEFAULT else [])
    return [
        url_for("pages.theme_asset", theme=t.name, filename=t.stylesheet, v=t.version) for t in chain if t.stylesheet
    ]
