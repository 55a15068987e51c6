"""Pages of the active store: drafts, publishing, versions, rollback, and the store's theme.

* The draft is saved (validated, see :mod:`mallow.builder.validation`) as often as the editor
  likes; a save names the draft revision it started from, and a save based on an older one is
  refused (:class:`StaleDraft`), so two open editors never overwrite each other silently.
* Publishing copies the draft into a new numbered version and points the page at it; the last
  :data:`KEEP_VERSIONS` versions are kept (the live one always). Rolling back points the page at
  a kept version again and makes it the draft.
* Publishing, rolling back and changing the theme drop the store's cached renders (the cache key
  moves anyway: this only frees the memory early).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import gettext as _
from mallow import audit
from mallow.builder import validation
from mallow.builder.cache import page_cache
from mallow.builder.current import default_document
from mallow.builder.invalidation import state, state_for_update
from mallow.builder.models import Page, PageVersion
from mallow.builder.page_words import screen_page
from mallow.builder.themes import DEFAULT, theme_set
from mallow.catalog.models import Product, ProductCategory
from mallow.db import db, utcnow
from mallow.media.models import MediaAsset
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed
from sqlalchemy.exc import IntegrityError

KEEP_VERSIONS = 50
MAX_PAGES = 200
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
TITLE_MAX = 60


class StaleDraft(Exception):
    """The draft changed since the editor loaded it (another tab or person saved)."""

    def __init__(self, current: int):
        super().__init__(f"the draft is at revision {current}")
        self.current = current


def _store_id() -> int:
    return current_store().id


# -- pages ------------------------------------------------------------------------------------

SINGLE_KINDS = ("home", "product", "category")


def _singleton(kind: str) -> Page:
    """The home page or a template, created the first time it is asked for: unpublished, with
    a draft that reproduces the fixed page (:func:`mallow.builder.current.default_document`)."""
    found = db.session.execute(sa.select(Page).where(Page.kind == kind, Page.slug == "")).scalar_one_or_none()
    if found is not None:
        return found
    draft = validation.validate_document(default_document(kind), kind=kind)
    page = Page(kind=kind, slug="", title="", draft=draft)
    db.session.add(page)
    try:
        db.session.commit()
    except IntegrityError:  # created by a concurrent request a moment ago
        db.session.rollback()
        return db.session.execute(sa.select(Page).where(Page.kind == kind, Page.slug == "")).scalar_one()
    return page


def get_page(ref) -> Page | None:
    """A page by id, or ``"home"`` / ``"product"`` / ``"category"`` for the single pages."""
    if ref in SINGLE_KINDS:
        return _singleton(ref)
    try:
        return db.session.get(Page, int(ref))
    except (TypeError, ValueError):
        return None


def pages() -> list[Page]:
    """The home page, the product-detail and category templates, then the landing pages."""
    for kind in SINGLE_KINDS:
        _singleton(kind)
    kinds = sa.case({"home": 0, "product": 1, "category": 2, "landing": 3}, value=Page.kind)
    return list(db.session.execute(sa.select(Page).order_by(kinds, Page.id)).scalars())


def create_landing(data, *, actor=None) -> Page:
    """A landing page (微页面) at ``/p/<slug>``: ``{"title": …, "slug": …}``."""
    errors = Errors()
    title = str(data.get("title") or "").strip()
    slug = str(data.get("slug") or "").strip().lower()
    if not title:
        errors.add("title", "required", _("Enter a title."))
    elif len(title) > TITLE_MAX:
        errors.add("title", "too_long", _("Use at most %(max)s characters.", max=TITLE_MAX))
    elif validation.unsafe_text(title):
        errors.add("title", "script", validation.message("script"))
    if not SLUG_RE.match(slug):
        errors.add("slug", "invalid", _("Use 1–40 lower-case letters, digits and hyphens."))
    elif db.session.execute(sa.select(Page.id).where(Page.kind == "landing", Page.slug == slug)).first():
        errors.add("slug", "taken", _("Another page has this address."))
    if db.session.execute(sa.select(sa.func.count()).select_from(Page)).scalar_one() >= MAX_PAGES:
        errors.add("slug", "too_many", _("A store has at most %(max)s pages.", max=MAX_PAGES))
    errors.raise_if_any()
    page = Page(kind="landing", slug=slug, title=title, draft=validation.empty_document())
    db.session.add(page)
    db.session.flush()
    audit.record("page.created", actor=actor, store_id=_store_id(), target=f"page:{page.id}")
    db.session.commit()
    return page


def references(editor: str, value) -> bool:
    """Do the ids a setting names exist in this store? (library images, products, categories)"""
    ids = set(value) if isinstance(value, list) else {value}
    model = {"image": MediaAsset, "product": Product, "products": Product, "category": ProductCategory}[editor]
    found = db.session.execute(sa.select(sa.func.count()).select_from(model).where(model.id.in_(ids))).scalar_one()
    return found == len(ids)


def save_draft(page: Page, document, *, revision: int | None = None, title: str | None = None) -> Page:
    """Validate and save the draft (``ValidationFailed`` / ``StaleDraft``; nothing is written then)."""
    if revision is not None and revision != page.draft_revision:
        raise StaleDraft(page.draft_revision)
    cleaned = validation.validate_document(document, references=references, kind=page.kind)
    screen_page(page, cleaned, title)  # 极限词: a blocking term raises, flagged ones are recorded
    if title is not None:
        title = str(title).strip()
        if len(title) > TITLE_MAX or validation.unsafe_text(title):
            raise ValidationFailed(
                {"title": ("invalid", _("Use at most %(max)s characters, no script.", max=TITLE_MAX))}
            )
        page.title = title
    page.draft = cleaned
    page.draft_revision = page.draft_revision + 1
    page.draft_saved_at = utcnow()
    db.session.commit()
    return page


def versions(page: Page) -> list[PageVersion]:
    return list(
        db.session.execute(
            sa.select(PageVersion).where(PageVersion.page_id == page.id).order_by(PageVersion.number.desc())
        ).scalars()
    )


def version(page: Page, version_id) -> PageVersion | None:
    try:
        found = db.session.get(PageVersion, int(version_id))
    except (TypeError, ValueError):
        return None
    return found if found is not None and found.page_id == page.id else None


def publish(page: Page, *, actor=None) -> PageVersion:
    """Make the saved draft live as a new version (checked again: block types may have gone)."""
    document = validation.validate_document(page.draft, references=references, kind=page.kind)
    last = db.session.execute(sa.select(sa.func.max(PageVersion.number)).where(PageVersion.page_id == page.id)).scalar()
    published = PageVersion(
        page_id=page.id,
        number=(last or 0) + 1,
        document=document,
        title=page.title,
        created_by=getattr(actor, "id", None),
    )
    db.session.add(published)
    db.session.flush()
    page.published_version_id = published.id
    _prune(page)
    audit.record(
        "page.published",
        actor=actor,
        store_id=_store_id(),
        target=f"page:{page.id}",
        detail={"version": published.number},
    )
    db.session.commit()
    page_cache().drop_store(_store_id())
    return published


def _prune(page: Page) -> None:
    old = (
        db.session.execute(
            sa.select(PageVersion.id)
            .where(PageVersion.page_id == page.id)
            .order_by(PageVersion.number.desc())
            .offset(KEEP_VERSIONS)
        )
        .scalars()
        .all()
    )
    old = [i for i in old if i != page.published_version_id]
    if old:
        db.session.execute(sa.delete(PageVersion).where(PageVersion.id.in_(old)))


def rollback(page: Page, target: PageVersion, *, actor=None) -> PageVersion:
    """Make a kept version live again; it becomes the draft too."""
    page.published_version_id = target.id
    page.draft = target.document
    page.draft_revision = page.draft_revision + 1
    page.draft_saved_at = utcnow()
    audit.record(
        "page.rolled_back",
        actor=actor,
        store_id=_store_id(),
        target=f"page:{page.id}",
        detail={"version": target.number},
    )
    db.session.commit()
    page_cache().drop_store(_store_id())
    return target


def unpublish(page: Page, *, actor=None) -> None:
    """Take the page off the storefront (the home page shows the catalogue home again, the
    product and category pages their fixed pages)."""
    page.published_version_id = None
    audit.record("page.unpublished", actor=actor, store_id=_store_id(), target=f"page:{page.id}")
    db.session.commit()
    page_cache().drop_store(_store_id())


def page_url(page: Page) -> str | None:
    from flask import url_for

    if page.kind == "home":
        return url_for("storefront.home")
    if page.kind == "landing":
        return url_for("pages.landing", slug=page.slug)
    return None


def page_json(page: Page, *, with_document: bool = True) -> dict:
    data = {
        "id": page.id,
        "kind": page.kind,
        "slug": page.slug,
        "title": page.title,
        "revision": page.draft_revision,
        "draft_saved_at": page.draft_saved_at.isoformat() if page.draft_saved_at else None,
        "published_version_id": page.published_version_id,
        "url": page_url(page),
    }
    if with_document:
        data["document"] = page.draft
    return data


def version_json(row: PageVersion, page: Page) -> dict:
    return {
        "id": row.id,
        "number": row.number,
        "title": row.title,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "live": row.id == page.published_version_id,
    }


# -- theme ------------------------------------------------------------------------------------


def current_theme() -> tuple[str, dict]:
    """``(theme name, its settings with defaults)`` of the active store."""
    row = state()
    theme = theme_set().get(row.theme if row is not None else DEFAULT)
    return theme.name, saved_theme_settings()[theme.name]


def saved_theme_settings() -> dict[str, dict]:
    """``{theme name: its settings with defaults}`` for every theme: each keeps its own, so
    switching to a theme and back (or previewing it) starts from what was saved for it."""
    row = state()
    saved = (row.theme_settings or {}) if row is not None else {}
    return {name: {**theme.defaults(), **(saved.get(name) or {})} for name, theme in theme_set().themes.items()}


def check_theme(name, settings) -> tuple[str, dict]:
    themes = theme_set()
    if not isinstance(name, str) or name not in themes.themes:
        raise ValidationFailed({"theme": ("unknown_theme", _("Unknown theme."))})
    return name, themes.themes[name].check_settings(settings)


def save_theme(name, settings, *, actor=None) -> tuple[str, dict]:
    """Switch the store to theme ``name`` with ``settings`` (each theme keeps its own)."""
    name, cleaned = check_theme(name, settings)
    row = state_for_update()
    row.theme = name
    row.theme_settings = {**(row.theme_settings or {}), name: cleaned}
    row.theme_revision = row.theme_revision + 1
    audit.record("theme.saved", actor=actor, store_id=_store_id(), target=f"theme:{name}")
    db.session.commit()
    page_cache().drop_store(_store_id())
    return name, cleaned
