"""Rendering a page document through a theme: data first, then sandboxed templates.

1. Collect every media, product and category id the document's settings name (by their
   ``x-editor`` hint) and the product listings its blocks declare (``BlockType.listings``):
   :func:`compile_document`, kept per published version. Load the images in one statement,
   every product (hand-picked and listed, with their covers) in another
   (:func:`mallow.catalog.search.shelf_cards`), categories from the tree read once per
   transaction: products only when on the shelf, categories only when shown, images only from
   this store's library.
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
from collections import namedtuple
from dataclasses import dataclass, field
from functools import cache

import sqlalchemy as sa
from flask import current_app, g, request, url_for
from mallow.builder import blocks, memo
from flask_babel import get_locale
from mallow.builder.themes import DEFAULT, Theme, theme_set, translating
from mallow.catalog import categories, richtext, search
from mallow.catalog.images import MEDIA_NAME
from mallow.db import db, lists, sqltext
from mallow.media import library as media_library
from mallow.media.models import MediaAsset
from mallow.money import fen_to_yuan
from mallow.qualifications.models import Qualification
from mallow.tenants.context import current_store
from markupsafe import Markup, escape

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


@dataclass(frozen=True)
class Compiled:
    """What every render of a document first works out from the document alone (and the block
    types): the ids its blocks name and the product listings they will ask for. Kept per
    published version (:class:`mallow.builder.cache.VersionDocuments`)."""

    document: dict
    references: dict
    listings: tuple
    #: ``{(block id, type name): '<section …>'}``: each block's opening tag, made once
    heads: dict = field(default_factory=dict, compare=False)
    #: ``{render key: Assembled or None}``: the page as fixed text around its live blocks, per
    #: theme, theme settings, language, title, store name and address (:func:`assemble`)
    assembled: dict = field(default_factory=dict, compare=False)

    def head(self, block_id: str, type_name: str) -> str:
        key = (block_id, type_name)
        found = self.heads.get(key)
        if found is None:
            found = self.heads[key] = _SECTION % (
                escape(type_name.replace("_", "-")),
                escape(block_id),
                escape(type_name),
            )
        return found


_SECTION = '<section class="mb mb-%s" data-block-id="%s" data-block-type="%s">'


def compile_document(document: dict) -> Compiled:
    listings = []
    for section_id in document.get("order", []):
        section = document["sections"].get(section_id)
        block_type = blocks.get(section.get("type")) if section else None
        if block_type is None or block_type.listings is None:
            continue
        try:
            listings.extend(block_type.listings({**_defaults(block_type.settings), **section.get("settings", {})}))
        except Exception:  # the block asks when it resolves (and fails there if it must)
            log.exception("block %s (%s): its listings could not be told", section_id, block_type.name)
    return Compiled(document, collect_references(document), tuple(dict.fromkeys(listings)))


def media_view(asset, urls: ProductUrls | None = None) -> dict:
    library_url = (urls or ProductUrls()).library_url
    full = library_url(asset.path)
    widths = sorted((int(w), path) for w, path in (asset.thumbnails or {}).items() if int(w) < asset.width)
    srcset = ", ".join([f"{library_url(path)} {w}w" for w, path in widths] + [f"{full} {asset.width}w"])
    src = next((library_url(path) for w, path in widths if w >= 750), full)
    return {"id": asset.id, "src": src, "srcset": srcset, "width": asset.width, "height": asset.height}


class ProductUrls:
    """Product, product-image and library-image addresses of the active store, each built by
    ``url_for`` once per render (with a mark where the value goes) and then filled in: a page
    lists dozens of products and images. The same text ``url_for`` makes: the values filled in
    (whole numbers, checked file names of letters, digits, ``_``, ``.`` and ``/``) need no
    quoting, and the names are checked as :func:`~mallow.catalog.images.media_name` and
    :func:`mallow.media.library.url` check them."""

    MARK = "987654321"

    def __init__(self):
        store_id = current_store().id
        self.product = self._split(url_for("storefront.product", product_id=int(self.MARK)))
        self.media = self._split(url_for("storefront.media", name=self.MARK))
        self.library = self._split(url_for("pages.library", name=self.MARK))
        self.image_prefix = f"uploads/stores/{store_id}/"
        self.library_prefix = f"uploads/{media_library.folder(store_id)}/"

    @classmethod
    def _split(cls, url: str) -> tuple[str, str]:
        head, _mark, tail = url.rpartition(cls.MARK)  # the last one: a store's slug may hold it too
        return head, tail

    def product_url(self, product_id: int) -> str:
        head, tail = self.product
        return f"{head}{int(product_id)}{tail}"

    def image_url(self, path: str | None) -> str | None:
        """The storefront address of a product image (``media_name`` of the active store)."""
        prefix = self.image_prefix
        if not path or not path.startswith(prefix):
            return None
        name = path[len(prefix) :]
        if not MEDIA_NAME.match(name):
            return None
        head, tail = self.media
        return f"{head}{name}{tail}"

    def library_url(self, path: str | None) -> str | None:
        """What :func:`mallow.media.library.url` answers, without a ``url_for`` each time."""
        if not path:
            return None
        prefix = self.library_prefix
        name = path[len(prefix) :] if path.startswith(prefix) else ""
        if not media_library.NAME_RE.match(name):
            return None
        head, tail = self.library
        return f"{head}{name}{tail}"


class StoreUrls(ProductUrls):
    """:class:`ProductUrls` plus the other addresses a page render asks for (the store's home,
    search, a category's page, the theme's stylesheets), made by ``url_for`` once per store and
    per request address (:func:`store_urls`) instead of once or more per render: every cold
    render of a store asks the same ones."""

    def __init__(self):
        super().__init__()
        self.home = url_for("storefront.home")
        self.search = url_for("storefront.search_page")
        self.category = self._split(url_for("storefront.category", category_id=int(self.MARK)))
        self.stylesheets: dict[str, list[str]] = {}
        self._calls: dict[tuple, str] = {}
        self._nexts: dict[tuple, str] = {}

    def category_url(self, category_id: int) -> str:
        head, tail = self.category
        return f"{head}{int(category_id)}{tail}"

    def url_for(self, endpoint: str, **values) -> str:
        """``url_for``, remembered for this store and address: the storefront frame around a
        page (``storefront/base.html``) asks for the same few addresses on every render. Not
        kept: a blueprint-relative endpoint (``.x``: it depends on the request's blueprint),
        values that cannot be a key; at most :attr:`KEPT_CALLS` kept. One with a ``next`` (the
        visitor's own address: the frame's language switch) is kept apart, among the last
        :attr:`KEPT_NEXT` (visitors choose those addresses: they never crowd out the others)."""
        if endpoint.startswith("."):
            return url_for(endpoint, **values)
        try:
            key = (endpoint, *values.items())
            kept, most = (self._calls, self.KEPT_CALLS) if "next" not in values else (self._nexts, self.KEPT_NEXT)
            found = kept.get(key)
        except TypeError:  # an unhashable value
            return url_for(endpoint, **values)
        if found is None:
            found = url_for(endpoint, **values)
            if len(kept) >= most and kept is self._nexts:
                kept.clear()
            if len(kept) < most:
                kept[key] = found
        return found

    KEPT_CALLS = 16
    KEPT_NEXT = 64


#: ``{(store id, slug, host, script root, scheme): StoreUrls}`` in ``app.extensions``
_STORE_URLS = "mallow.builder.store_urls"


def store_urls() -> StoreUrls:
    """The active store's :class:`StoreUrls` for this request's address (host, script root,
    scheme: what ``url_for`` builds a relative address from), kept per process (a store's slug
    is part of the key: a renamed store gets new ones)."""
    store = current_store()
    key = (store.id, g.get("mallow_store_slug"), request.host, request.script_root, request.scheme)
    kept = current_app.extensions.setdefault(_STORE_URLS, {})
    found = kept.get(key)
    if found is None:
        if len(kept) >= 10_000:  # (hosts are the visitors' to choose: bounded)
            kept.clear()
        found = kept[key] = StoreUrls()
    return found


def product_view(product, price: int | None, urls: ProductUrls | None = None) -> dict:
    """A product card: ``product`` is a :class:`~mallow.catalog.search.Card` or
    :class:`~mallow.catalog.search.Summary` (its cover loaded with it) or a ``Product`` row (its
    first image)."""
    urls = urls or ProductUrls()
    if isinstance(product, (search.Card, search.Summary)):
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
    category, or None) and a few queries of the active store. ``listings``: the product listings
    the page's blocks will ask :meth:`search_products` for (:attr:`BlockType.listings`), loaded
    with the referenced products in one statement."""

    def __init__(self, store, references: dict[str, set], subject=None, listings=(), images=None):
        self.store = store
        self.subject = subject
        self.urls = urls = store_urls()
        self.media = {}
        if images is not None:  # read with the page row (the rows of exactly these references)
            self.media = {row.id: media_view(row, urls) for row in images}
        elif references["image"]:  # plain rows: the columns a view needs, no ORM objects
            rows = _read(MediaAsset, _media_statement, {"ids": sorted(references["image"])})
            self.media = {row.id: media_view(row, urls) for row in rows}
        self.categories = {}
        if references["category"]:  # from the tree read once per transaction (a grid's listing reads it too)
            wanted = references["category"]
            self.categories = {
                c.id: {"id": c.id, "name": c.name, "url": urls.category_url(c.id)}
                for c in categories.all_categories()
                if c.id in wanted and c.active
            }
        self.products = {}
        self._listings = {}
        if references["product"] or listings:
            picked, listed = search.shelf_cards(references["product"], listings)
            view = self._view
            self.products = {product_id: view(summary) for product_id, summary in picked.items()}
            self._listings = {listing: [view(s) for s in found] for listing, found in listed.items()}
        self.home_url = urls.home
        self._root = urls.home.rstrip("/")

    def _view(self, summary) -> dict:
        return product_view(summary, summary.min_price, self.urls)

    def search_products(self, *, category_id: int | None = None, sort: str = "default", count: int = 6) -> list[dict]:
        """On-shelf products through the catalogue's own search (category includes subcategories),
        as summaries: the listed columns and the covers, no ORM rows. A listing the page's blocks
        told in advance was loaded with the page's other products; any other costs a statement."""
        listing = search.Listing(category_id, sort, count)
        found = self._listings.get(listing)
        if found is None:
            _picked, listed = search.shelf_cards((), [listing])
            found = self._listings[listing] = [self._view(s) for s in listed[listing]]
        return list(found)

    def licence(self) -> dict | None:
        """The store's newest approved qualification (the licence it trades under), or None. For
        the request's store, kept in this process under the store's stamp, which every change of
        its qualifications moves (as :mod:`mallow.qualifications.selling` keeps its answer)."""
        store_id = self.store.id
        stamp = g.get("mallow_store_stamp") if g.get("mallow_store_id") == store_id else None
        memory = current_app.extensions.setdefault(_LICENCES, {}) if stamp is not None else {}
        kept = memory.get(store_id)
        if kept is not None and kept[0] == stamp:
            return dict(kept[1]) if kept[1] is not None else None
        approved = db.session.execute(_licence_statement(), {"store_id": store_id}).first()
        found = {"legal_name": approved.legal_name, "uscc": approved.uscc} if approved else None
        if stamp is not None:
            if len(memory) >= 20_000:
                memory.clear()
            memory[store_id] = (stamp, dict(found) if found is not None else None)
        return found

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
def _media_statement(arrays: str = "") -> sa.Select:
    """The library images a page shows: the columns a view needs, no ORM objects; built once
    (building a statement costs more than running it), the ids bound when it runs."""
    columns = (MediaAsset.id, MediaAsset.path, MediaAsset.thumbnails, MediaAsset.width, MediaAsset.height)
    return sa.select(*columns).where(lists.one_of(MediaAsset.id, "ids", arrays))


def _read(model, statement, params: dict):
    """The rows of a read ``statement`` on ``model``'s table, run on the tenant session's
    connection for it (Core: the ORM's execution layer has nothing to add to plain columns);
    pending changes are flushed first, as the session's own execute would. ``statement``: a
    statement, or a function of how lists are bound (:func:`mallow.db.lists.arrays`) that gives
    one. Where a list is one parameter (PostgreSQL, SQLite with its JSON functions) the text is
    sent by :func:`mallow.db.sqltext.rows` (no execution context, no schema translation per call);
    the rows are named tuples either way."""
    session = db.session()
    if session.autoflush:  # nothing to do (and next to no cost) unless something is pending
        session.flush()
    connection = session.connection(bind_arguments={"mapper": sa.inspect(model)})
    as_array = lists.arrays(connection)
    if callable(statement):
        statement = statement(as_array)
    if not as_array:
        return connection.execute(statement, params).all()
    make = _row_type(statement)._make
    return [make(row) for row in sqltext.rows(connection, statement, params)]


@cache
def _row_type(statement):
    """A named tuple of ``statement``'s columns (statements read here are built once and kept)."""
    return namedtuple("Row", [column.key for column in statement.selected_columns], rename=True)


read_rows = _read


#: ``{store id: (stamp, licence or None)}`` in ``app.extensions``
_LICENCES = "mallow.builder.licences"


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
    compiled: Compiled | None = None,
    images: list | None = None,
    assemble: bool = False,
) -> Rendered:
    """Render ``document`` (already validated) for the active store through ``theme``;
    ``subject`` is the current product or category of those templates; ``compiled``: the
    document's :func:`compile_document`, when kept; ``images``: the rows of the library images
    it names (``id, path, thumbnails, width, height``), when already read (else read here);
    ``assemble``: a published version (never changed once written): render it from its kept
    :class:`Assembled` form (made on the first render, :func:`assemble`)."""
    compiled = compiled if compiled is not None else compile_document(document)
    ctx = RenderContext(store, compiled.references, subject, compiled.listings, images)
    style, classes = theme.css(theme_settings)
    common = {
        "theme": {"name": theme.name, "settings": dict(theme_settings)},
        "editing": preview,
        "store": {
            "name": store.name,
            "home_url": ctx.home_url,
            "search_url": ctx.urls.search,
        },
        "page": {"kind": kind, "title": title},
    }
    with translating():
        auto_reload = theme_set().auto_reload
        page = memo.page_key(common, preview=preview, auto_reload=auto_reload)  # the blocks' memo (or None)
        if assemble and not preview and not auto_reload:
            found = _render_assembled(
                document, kind, theme, theme_settings, compiled, ctx, common, style, classes, page
            )
            if found is not None:
                return found
        return _render_blocks(document, kind, theme, compiled, ctx, common, style, classes, preview, page)


def _render_blocks(document, kind, theme, compiled, ctx, common, style, classes, preview, page=None) -> Rendered:
    from flask_babel import gettext as _

    themes = theme_set()
    rendered = Rendered(Markup(""))
    for block_id in document.get("order", []):
        section = document.get("sections", {}).get(block_id) or {}
        block_type = blocks.available(section.get("type", ""))
        if block_type is None:
            continue
        rendered.uses_catalogue = rendered.uses_catalogue or block_type.uses_catalogue
        try:
            view = _block_view(block_id, section, block_type, ctx)
            inner = memo.render_block(themes.template(theme.name, block_type.template), view, common, page)
        except Exception:  # a broken theme or plugin block: leave it out, keep the page
            log.exception("block %s (%s) of theme %s failed to render", block_id, block_type.name, theme.name)
            inner = Markup('<p class="mb-failed">%s</p>') % _("This block could not be shown.") if preview else ""
        rendered.blocks.append(
            (block_id, block_type.name, f"{compiled.head(block_id, block_type.name)}{inner}</section>")
        )
    page_template = themes.page_template(theme.name, kind)
    body = page_template.render(blocks=[Markup(b[2]) for b in rendered.blocks], style=style, classes=classes, **common)
    rendered.html = Markup(body)
    return rendered


# -- assembled pages: the fixed text of a published version, made once --------------------------

#: settings editors whose value names a row read on every render (a block using one is live)
_ROW_EDITORS = frozenset({"image", "product", "products", "category"})
#: how many assembled forms a compiled version keeps (themes × languages × addresses, bounded)
ASSEMBLED_PER_VERSION = 32


def is_fixed(block_type) -> bool:
    """Whether what a block of this type shows depends only on its settings and the page's
    :func:`assemble` key: a built-in type with no ``resolve`` and no listing, that names no image,
    product or category (their rows are read on every render). Plugin types never are."""
    if not block_type.builtin or block_type.plugin is not None:
        return False
    if block_type.resolve is not None or block_type.listings is not None or block_type.uses_catalogue:
        return False
    schemas = [block_type.settings, *(child.settings for child in block_type.children.values())]
    return not any(schema.get("x-editor") in _ROW_EDITORS for settings in schemas for schema in settings.values())


@dataclass(frozen=True)
class Assembled:
    """A published page as it renders for one key (:func:`assemble`): ``parts`` are text (the page
    template around the blocks, each block's ``<section>`` tags, the whole of every fixed block)
    and, as ints, the indexes of ``live`` blocks ``(block id, type name)``, rendered per request
    with the rows read for it."""

    parts: tuple
    live: tuple
    #: ``(block id, type name, html or None for a live block)`` in page order
    blocks: tuple
    uses_catalogue: bool


_BLOCK_MARK = "<!--mallow-block:%d:" + _LATE_SECRET + "-->"


def assemble(document, kind, theme, compiled, ctx, common, style, classes) -> Assembled | None:
    """The fixed text of ``document`` for this render's key, with holes for its live blocks; None
    when the page cannot be cut so (a block type not available in the store now, a page template
    that does not show each block once, in order, as it is): then every render renders it all."""
    themes = theme_set()
    items = []
    for block_id in document.get("order", []):
        section = document.get("sections", {}).get(block_id) or {}
        block_type = blocks.available(section.get("type", ""))
        if block_type is None:
            return None
        html = None
        if is_fixed(block_type):
            try:
                view = _block_view(block_id, section, block_type, ctx)
                inner = themes.template(theme.name, block_type.template).render(block=view, **common)
                html = f"{compiled.head(block_id, block_type.name)}{inner}</section>"
            except Exception:  # rendered (and logged) per request, as any live block
                html = None
        items.append((block_id, block_type.name, html, block_type.uses_catalogue))
    marks = [_BLOCK_MARK % i for i in range(len(items))]
    page_template = themes.page_template(theme.name, kind)
    body = page_template.render(blocks=[Markup(m) for m in marks], style=style, classes=classes, **common)
    parts, live, rest = [], [], str(body)
    for mark, (block_id, type_name, html, _uses) in zip(marks, items, strict=True):
        if body.count(mark) != 1:
            return None
        before, _found, rest = rest.partition(mark)
        if not _found:  # not in page order
            return None
        parts.append(before)
        if html is None:
            parts.append(len(live))
            live.append((block_id, type_name))
        else:
            parts.append(html)
    parts.append(rest)
    merged = []
    for part in parts:  # neighbouring texts joined: a render appends fewer pieces
        if merged and isinstance(part, str) and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return Assembled(
        tuple(merged),
        tuple(live),
        tuple((b, t, h) for b, t, h, _u in items),
        any(uses for *_rest, uses in items),
    )


def _render_assembled(document, kind, theme, theme_settings, compiled, ctx, common, style, classes, page=None):
    """:func:`_render_blocks` through the version's kept :class:`Assembled` form (made now when
    missing), or None when it has none (the caller renders everything); ``page``: the live
    blocks' part of the block memo's keys (:func:`mallow.builder.memo.page_key`), or None."""
    key = (
        kind,
        theme.name,
        tuple(sorted(theme_settings.items())),
        str(get_locale()),
        common["page"]["title"],
        ctx.store.name,
        ctx.urls,
    )
    kept = compiled.assembled
    try:
        found = kept.get(key, False)
    except TypeError:  # a theme setting that cannot be a key: rendered whole
        return None
    if found is False:
        found = assemble(document, kind, theme, compiled, ctx, common, style, classes)
        if len(kept) >= ASSEMBLED_PER_VERSION:
            kept.clear()
        kept[key] = found
    if found is None:
        return None
    sections = document.get("sections", {})
    live_types = []
    for _block_id, type_name in found.live:  # every live type still usable here (else: whole render)
        block_type = blocks.available(type_name)
        if block_type is None:
            return None
        live_types.append(block_type)
    themes = theme_set()
    shown = []
    for (block_id, type_name), block_type in zip(found.live, live_types, strict=True):
        try:
            view = _block_view(block_id, sections.get(block_id) or {}, block_type, ctx)
            inner = memo.render_block(themes.template(theme.name, block_type.template), view, common, page)
        except Exception:  # a broken theme or plugin block: leave it out, keep the page
            log.exception("block %s (%s) of theme %s failed to render", block_id, type_name, theme.name)
            inner = ""
        shown.append(f"{compiled.head(block_id, type_name)}{inner}</section>")
    html = "".join([part if type(part) is str else shown[part] for part in found.parts])
    rendered = Rendered(Markup(html), uses_catalogue=found.uses_catalogue)
    live = iter(shown)
    rendered.blocks = [(b, t, h if h is not None else next(live)) for b, t, h in found.blocks]
    return rendered


def stylesheet_urls(theme: Theme) -> list[str]:
    """The default theme's stylesheet, then the theme's own (styles fall back like templates)."""
    urls = store_urls() if current_store() is not None else None
    kept = urls.stylesheets.get(theme.name) if urls is not None else None
    if kept is None:
        chain = [theme_set().get(DEFAULT)] + ([theme] if theme.name != DEFAULT else [])
        kept = [
            url_for("pages.theme_asset", theme=t.name, filename=t.stylesheet, v=t.version)
            for t in chain
            if t.stylesheet
        ]
        if urls is not None:  # a theme's name, stylesheet and version are fixed for the app's life
            urls.stylesheets[theme.name] = kept
    return list(kept)
