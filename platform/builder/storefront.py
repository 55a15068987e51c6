"""Published pages on the storefront, through the render cache; theme files; library images.

``/s/<slug>/`` shows the published home page when the store has one (the storefront's home
view asks :func:`published_page_response` first), else the catalogue home as before; the product
and category pages ask the same for their templates, with the current product / category as the
*subject*. Landing pages are at ``/s/<slug>/p/<page slug>``. The warm path is one query (the
page row joined with the builder state) plus the cache lookup; a miss loads the version and its
data and renders.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, g, render_template, send_from_directory
from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from markupsafe import Markup
from mallow.builder.cache import page_cache, version_documents
from mallow.builder.current import fill
from mallow.builder.invalidation import STATE_ID
from mallow.builder.models import BuilderState, Page, PageVersion
from mallow.builder.render import compile_document, read_rows, render_document, store_urls, stylesheet_urls
from mallow.builder.themes import DEFAULT, theme_set
from mallow.db import db, lists
from mallow.edge import cacheable, fresh_for
from mallow.media import library
from mallow.media.images import absolute_path
from mallow.media.models import MediaAsset
from mallow.tenants.context import current_store
from mallow.tenants.resolve import store_url_prefix

bp = Blueprint("pages", __name__, url_prefix=store_url_prefix())
_ASSET = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*\.(?:css|png|jpg|webp|svg|woff2)$")


@cache
def _live_statement() -> sa.Select:
    """Built once: building a statement costs more than running this one (values are bound)."""
    return (
        sa.select(
            Page.id,
            Page.title,
            Page.published_version_id,
            BuilderState.theme,
            BuilderState.theme_settings,
            BuilderState.theme_revision,
            BuilderState.catalogue_version,
            PageVersion.created_at.label("version_created_at"),
        )
        .select_from(Page)
        .outerjoin(BuilderState, BuilderState.id == STATE_ID)
        .outerjoin(PageVersion, PageVersion.id == Page.published_version_id)
        .where(Page.kind == sa.bindparam("kind"), Page.slug == sa.bindparam("slug"))
    )


@cache
def _live_with_images_statement(arrays: str = "") -> sa.Select:
    """:func:`_live_statement` and, in the same statement, the library images of the version
    this process last rendered for the page (``image_ids``): one row per image found (the page's
    columns repeated), or one row with no image."""
    images = (
        MediaAsset.id.label("image_id"),
        MediaAsset.path.label("image_path"),
        MediaAsset.thumbnails.label("image_thumbnails"),
        MediaAsset.width.label("image_width"),
        MediaAsset.height.label("image_height"),
    )
    return (
        _live_statement().add_columns(*images).outerjoin(MediaAsset, lists.one_of(MediaAsset.id, "image_ids", arrays))
    )


@cache
def _document_statement() -> sa.Select:
    return sa.select(PageVersion.document).where(PageVersion.id == sa.bindparam("version_id"))


def _live(kind: str, slug: str = ""):
    """``(page id, title, version id, theme, theme settings, theme revision, catalogue version,
    the version's creation time)``: read as the renderer reads (Core, on the session's
    connection for the store's tables: plain columns need nothing of the ORM's layer)."""
    rows = read_rows(Page, _live_statement(), {"kind": kind, "slug": slug})
    return rows[0] if rows else None


class LibraryImage(NamedTuple):
    """A library image's columns as :func:`~mallow.builder.render.media_view` reads them."""

    id: int
    path: str
    thumbnails: dict
    width: int
    height: int


#: ``{(store id, kind, slug): (version id, its creation time, image ids)}`` in ``app.extensions``:
#: the library images the page's published version showed when this process last rendered it
_LAST_IMAGES = "mallow.builder.last_page_images"


def _live_and_images(store_id: int, kind: str, slug: str):
    """``(page row as :func:`_live`, images or None)``. When this process rendered the page's
    version before and it showed library images, they are read with the page row, in the same
    statement; they are the version's images only when the row still names that version (a
    publish or a rollback names another: None, and the renderer reads them itself)."""
    last = current_app.extensions.get(_LAST_IMAGES, {}).get((store_id, kind, slug))
    if last is None or not last[2]:
        return _live(kind, slug), None
    rows = read_rows(Page, _live_with_images_statement, {"kind": kind, "slug": slug, "image_ids": list(last[2])})
    if not rows:
        return None, None
    row = rows[0]
    if (row.published_version_id, row.version_created_at) != last[:2]:
        return row, None
    images = [
        LibraryImage(r.image_id, r.image_path, r.image_thumbnails, r.image_width, r.image_height)
        for r in rows
        if r.image_id is not None
    ]
    return row, images


def _remember_images(store_id: int, kind: str, slug: str, row, compiled) -> None:
    if row.version_created_at is None:
        return
    memory = current_app.extensions.setdefault(_LAST_IMAGES, {})
    remembered = (row.published_version_id, row.version_created_at, tuple(sorted(compiled.references["image"])))
    if memory.get((store_id, kind, slug)) != remembered:
        if len(memory) >= 20_000:
            memory.clear()
        memory[(store_id, kind, slug)] = remembered


def _compiled(store_id: int, row):
    """The published version's document, compiled (:func:`compile_document`), from this
    process's memory of versions when it has rendered it before; else read (one statement)."""
    key = (store_id, row.published_version_id, row.version_created_at)
    documents = version_documents()
    compiled = documents.get(key) if row.version_created_at is not None else None
    if compiled is None:
        version = db.session.execute(_document_statement(), {"version_id": row.published_version_id}).first()
        if version is None:
            return None
        compiled = compile_document(version.document)
        if row.version_created_at is not None:
            documents.put(key, compiled)
    return compiled


def render_live(kind: str, slug: str = "", subject=None):
    """``(page html, theme, title)`` of the published page, or None. Cached, per subject (the
    current product or category of those templates) too; the subject's per-request parts are
    not filled in yet (see :func:`published_page_response`)."""
    store = current_store()
    row, images = _live_and_images(store.id, kind, slug)
    if row is None or row.published_version_id is None:
        return None
    theme = theme_set().get(row.theme or DEFAULT)
    catalogue_version = row.catalogue_version or 1
    cache = page_cache()
    key = None
    if cache.max_entries > 0:  # a cache that keeps nothing (turned off): no key to make
        subject_key = subject.cache_key() if subject is not None else ()
        key = (
            None
            if subject_key is None
            else (
                store.id,
                row.id,
                row.published_version_id,
                theme.name,
                row.theme_revision or 1,
                str(get_locale()),
                store.name,
                *subject_key,
            )
        )
    html = cache.get(key, catalogue_version) if key is not None else None
    if html is None:
        compiled = _compiled(store.id, row)
        if compiled is None:
            return None
        settings = {**theme.defaults(), **((row.theme_settings or {}).get(theme.name) or {})}
        outer = g.pop("mallow_fresh_seconds", None)  # what the blocks say, apart from the rest of the page
        rendered = render_document(
            compiled.document,
            kind=kind,
            theme=theme,
            theme_settings=settings,
            store=store,
            title=row.title,
            subject=subject,
            compiled=compiled,
            images=images,
            assemble=row.version_created_at is not None,  # a kept version: its fixed parts kept with it
        )
        _remember_images(store.id, kind, slug, row, compiled)
        html = rendered.html
        said = g.pop("mallow_fresh_seconds", None)
        for seconds in (outer, said):
            if seconds is not None:
                fresh_for(seconds)
        if key is not None:
            cache.put(key, str(html), catalogue_version if rendered.uses_catalogue else None, said)
    return html, theme, row.title


#: ``app.extensions[FRAME]``: what draws the storefront frame around a published page, called as
#: ``render_template`` is (:func:`register_frame`; Flask's ``render_template`` when none is)
FRAME = "mallow.builder.frame"


def register_frame(app, draw) -> None:
    """Let ``draw(template, **context)`` draw the frame around published pages (the storefront's
    :func:`mallow.storefront.frame.draw`, which keeps what every anonymous visitor sees)."""
    app.extensions[FRAME] = draw


def published_page_response(kind: str = "home", slug: str = "", subject=None):
    """The storefront response for a published page, or None when there is none. ``subject``:
    the current product / category (:mod:`mallow.builder.current`) of those templates."""
    found = render_live(kind, slug, subject)
    if found is None:
        return None
    html, theme, title = found
    if subject is not None:
        title = f"{subject.title} · {current_store().name}"
    page_html = fill(html, subject, theme)
    page = current_app.extensions.get(FRAME, render_template)(
        "storefront/built_page.html",
        page_html=page_html,
        stylesheets=stylesheet_urls(theme),
        page_title=title,
        **frame_helpers(),
    )
    return page, subject.status if subject is not None else 200


def frame_helpers() -> dict:
    """What the storefront frame around a built page (``storefront/base.html``) calls, made
    cheaper for this render and giving the same text: ``url_for`` remembered per store and
    address (:meth:`~mallow.builder.render.StoreUrls.url_for`), and ``_``/``ngettext`` looking
    messages up in the request's translations found once (Flask-Babel finds them per message)."""
    translations = get_translations()
    return {
        "url_for": store_urls().url_for,
        "_": _frame_gettext(translations),
        "gettext": _frame_gettext(translations),
        "ngettext": _frame_ngettext(translations),
    }


def _frame_gettext(translations):
    """Jinja's new-style ``gettext`` (what Flask-Babel installs) over ``translations``."""

    @pass_context
    def gettext(context, string, **variables):
        text = translations.ugettext(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return gettext


def _frame_ngettext(translations):
    """Jinja's new-style ``ngettext`` (what Flask-Babel installs) over ``translations``."""

    @pass_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)
        text = translations.ungettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return ngettext


@bp.get("/p/<slug>")
@cacheable
def landing(slug):
    store = current_store()
    if not store.is_open:
        return render_template("storefront/not_open.html"), 503, {"Retry-After": "86400"}
    response = published_page_response("landing", slug)
    if response is None:
        abort(404)
    return response


@bp.get("/theme/<theme>/<path:filename>")
def theme_asset(theme, filename):
    """A theme's static file (the stylesheet); names are checked, never a path outside it."""
    found = theme_set().themes.get(theme)
    if found is None or not _ASSET.match(filename):
        abort(404)
    response = send_from_directory(found.folder / "static", filename, max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/library/<name>", endpoint="library")
def library_file(name):
    """An image of the store's media library (random names, never reused: cached for a year)."""
    relative = library.file_for(name)
    path = absolute_path(relative) if relative else None
    if path is None:
        abort(404)
    response = current_app.response_class(path.read_bytes(), mimetype=_MIME[path.suffix])
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


_MIME = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
