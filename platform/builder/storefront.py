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

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, g, render_template, send_from_directory
from flask_babel import get_locale
from mallow.builder.cache import page_cache, version_documents
from mallow.builder.current import fill
from mallow.builder.invalidation import STATE_ID
from mallow.builder.models import BuilderState, Page, PageVersion
from mallow.builder.render import compile_document, render_document, stylesheet_urls
from mallow.builder.themes import DEFAULT, theme_set
from mallow.db import db
from mallow.edge import cacheable, fresh_for
from mallow.media import library
from mallow.media.images import absolute_path
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
def _document_statement() -> sa.Select:
    return sa.select(PageVersion.document).where(PageVersion.id == sa.bindparam("version_id"))


def _live(kind: str, slug: str = ""):
    """``(page id, title, version id, theme, theme settings, theme revision, catalogue version,
    the version's creation time)``."""
    return db.session.execute(_live_statement(), {"kind": kind, "slug": slug}).first()


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
    row = _live(kind, slug)
    if row is None or row.published_version_id is None:
        return None
    store = current_store()
    theme = theme_set().get(row.theme or DEFAULT)
    catalogue_version = row.catalogue_version or 1
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
    cache = page_cache()
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
        )
        html = rendered.html
        said = g.pop("mallow_fresh_seconds", None)
        for seconds in (outer, said):
            if seconds is not None:
                fresh_for(seconds)
        if key is not None:
            cache.put(key, str(html), catalogue_version if rendered.uses_catalogue else None, said)
    return html, theme, row.title


def published_page_response(kind: str = "home", slug: str = "", subject=None):
    """The storefront response for a published page, or None when there is none. ``subject``:
    the current product / category (:mod:`mallow.builder.current`) of those templates."""
    found = render_live(kind, slug, subject)
    if found is None:
        return None
    html, theme, title = found
    if subject is not None:
        title = f"{subject.title} · {current_store().name}"
    page = render_template(
        "storefront/built_page.html",
        page_html=fill(html, subject, theme),
        stylesheets=stylesheet_urls(theme),
        page_title=title,
    )
    return page, subject.status if subject is not None else 200


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
