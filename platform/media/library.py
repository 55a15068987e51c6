"""The media library of the active store: upload, list, delete what nothing uses.

Images go through :func:`mallow.media.images.store_image` (size and pixel limits, magic bytes,
re-encoding, server-made names) into ``uploads/stores/<id>/media/`` with 320 px and 750 px
copies for ``srcset``. Pages refer to an image by its id. An image is *in use* while any page's
draft or kept version names it, or a product image row points at its file (the catalogue can
take pictures from the library); only unused images can be deleted.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from mallow import audit
from mallow.db import db
from mallow.media.images import (
    ImageRejected,
    delete_stored,
    rejection_message,
    store_image,
)
from mallow.media.models import MediaAsset
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed

THUMBNAILS = (320, 750)
MAX_ASSETS = 2000
NAME_RE = re.compile(r"^[0-9a-f]{32}(?:_\d{2,4})?\.(?:jpg|png|webp)$")
_DISPLAY_NAME = re.compile(r"[^\w .()\-\u4e00-\u9fff]+")


class InUse(Exception):
    def __init__(self, count: int):
        super().__init__(f"used {count} times")
        self.count = count


def folder(store_id: int | None = None) -> str:
    return f"stores/{store_id if store_id is not None else current_store().id}/media"


def url(path: str | None) -> str | None:
    """The public address of a library file of the active store (None for anything else)."""
    if not path:
        return None
    prefix = f"uploads/{folder()}/"
    name = path[len(prefix):] if path.startswith(prefix) else ""
    return url_for("pages.library", name=name) if NAME_RE.match(name) else None


def file_for(name: str) -> str | None:
    """The relative path of the library file ``name`` of the active store, if the name is one."""
    return f"uploads/{folder()}/{name}" if NAME_RE.match(name or "") else None


def display_name(filename: str | None) -> str:
    stem = Path(filename or "").name
    return _DISPLAY_NAME.sub("", stem).strip()[:100]


def upload(file_storage, *, actor=None) -> MediaAsset:
    """Check, re-encode and keep an uploaded image (``ValidationFailed`` on field ``image``)."""
    count = db.session.execute(sa.select(sa.func.count()).select_from(MediaAsset)).scalar_one()
    if count >= MAX_ASSETS:
        raise ValidationFailed({"image": ("too_many", _("The library holds at most %(max)s images: delete unused ones.",
                                                        max=MAX_ASSETS))})
    try:
        stored = store_image(file_storage, folder(), thumbnails=THUMBNAILS)
    except ImageRejected as rejected:
        raise ValidationFailed({"image": (rejected.code, rejection_message(rejected.code))}) from None
    asset = MediaAsset(path=stored.path, thumbnails={str(w): p for w, p in stored.thumbnails.items()},
                       width=stored.width, height=stored.height, bytes=stored.bytes,
                       name=display_name(getattr(file_storage, "filename", "")))
    db.session.add(asset)
    db.session.flush()
    audit.record("media.uploaded", actor=actor, store_id=current_store().id, target=f"media:{asset.id}")
    db.session.commit()
    return asset


def assets(page: int = 1, per_page: int = 60) -> tuple[int, list[MediaAsset]]:
    total = db.session.execute(sa.select(sa.func.count()).select_from(MediaAsset)).scalar_one()
    rows = list(db.session.execute(sa.select(MediaAsset).order_by(MediaAsset.id.desc())
                                   .limit(per_page).offset((page - 1) * per_page)).scalars())
    return total, rows


def get(asset_id) -> MediaAsset | None:
    try:
        return db.session.get(MediaAsset, int(asset_id))
    except (TypeError, ValueError):
        return None


def usage(assets_: list[MediaAsset]) -> Counter:
    """``{asset id: number of uses}`` in page drafts, kept page versions and product images."""
    from mallow.builder.models import Page, PageVersion
    from mallow.builder.render import collect_references
    from mallow.catalog.models import ProductImage

    wanted = {a.id for a in assets_}
    uses: Counter = Counter()
    if not wanted:
        return uses
    documents = list(db.session.execute(sa.select(Page.draft)).scalars())
    documents += list(db.session.execute(sa.select(PageVersion.document)).scalars())
    for document in documents:
        for media_id in collect_references(document or {})["image"] & wanted:
            uses[media_id] += 1
    by_path = {a.path: a.id for a in assets_}
    for path in db.session.execute(sa.select(ProductImage.path).where(ProductImage.path.in_(by_path))).scalars():
        uses[by_path[path]] += 1
    return uses


def delete(asset: MediaAsset, *, actor=None) -> None:
    """Delete an unused image and its files (``InUse`` otherwise)."""
    used = usage([asset]).get(asset.id, 0)
    if used:
        raise InUse(used)
    paths = [asset.path, *asset.thumbnails.values()]
    db.session.delete(asset)
    audit.record("media.deleted", actor=actor, store_id=current_store().id, target=f"media:{asset.id}")
    db.session.commit()
    for path in paths:
        delete_stored(path)


def asset_json(asset: MediaAsset, uses: int | None = None) -> dict:
    thumb = asset.thumbnails.get("320") or asset.path
    data = {"id": asset.id, "name": asset.name, "width": asset.width, "height": asset.height, "bytes": asset.bytes,
            "url": url(asset.path), "thumbnail_url": url(thumb), "created_at": asset.created_at.isoformat()}
    if uses is not None:
        data["uses"] = uses
    return data
