"""The pages that show library images: the page builder's finder for :mod:`mallow.media.usage`.

A page shows an image while its draft, its live version or a version kept for rollback names it;
``create_app`` registers :func:`pages_using` with the media library, which refuses to delete an
image in use.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.builder.models import Page, PageVersion
from mallow.builder.render import collect_references
from mallow.db import db
from mallow.media.usage import Use


def pages_using(assets: list) -> dict[int, list[Use]]:
    """``{asset id: [Use]}``: every page version that shows one of ``assets``, in page order."""
    wanted = {a.id for a in assets}
    found: dict[int, list[Use]] = {}
    versions: dict[int, list] = {}
    for row in db.session.execute(
        sa.select(PageVersion.id, PageVersion.page_id, PageVersion.number, PageVersion.document).order_by(
            PageVersion.number.desc()
        )
    ):
        versions.setdefault(row.page_id, []).append(row)
    for page in db.session.execute(sa.select(Page).order_by(Page.id)).scalars():
        documents = [("draft", None, page.draft)] + [
            ("live" if v.id == page.published_version_id else "version", v.number, v.document)
            for v in versions.get(page.id, [])
        ]
        for state, number, document in documents:
            for media_id in sorted(collect_references(document or {})["image"] & wanted):
                found.setdefault(media_id, []).append(Use("page", page.id, page_title(page), state, number))
    return found


def page_title(page) -> str:
    """A page as the merchant knows it (the single pages by their kind, landing pages by title)."""
    named = {
        "home": lambda: _("Home page"),
        "product": lambda: _("Product page template"),
        "category": lambda: _("Category page template"),
    }
    return named[page.kind]() if page.kind in named else page.title
