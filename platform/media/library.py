"""The media library of the active store: every image a merchant uploads, for pages and products.

Images go through :func:`mallow.media.images.store_image` (size and pixel limits, magic bytes,
re-encoding, server-made names) into ``uploads/stores/<id>/media/`` with 320 px and 750 px
copies for ``srcset``. The page builder's picker, the product form and the product image API all
upload through :func:`add` / :func:`upload`, so every picture of a store is here once. Pages
refer to an image by its id; a product image row points at its files (``ProductImage.path`` is
the asset's ``path``), a SKU by its id (``Sku.media_id``). An image is *in use* while any page's
draft or kept version names it or a product or one of its SKUs shows it (:func:`uses` says
where, asking the finders the builder and the catalogue register: :mod:`mallow.media.usage`);
only unused images can be deleted.

Everything here works on the active store's own ``media_assets`` table and files folder: an id
or a file name of another store finds nothing. Only an open store adds images
(:func:`check_uploads_allowed`, first thing in :func:`add`): a store under review, suspended or
closed uploads only its qualification documents, which do not go through the library.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound
from mallow import audit
from mallow.db import db
from mallow.media.image_checks import ImageRejected, rejection_message
from mallow.media.images import delete_stored, store_image
from mallow.media.upload_limits import BUSY_RESPONSE, Refused  # noqa: F401  (BUSY_RESPONSE: for the API's operations)
from mallow.media import usage as usage_finders
from mallow.media.models import MediaAsset
from mallow.media.usage import Use
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web.ids import ID_MAX

THUMBNAILS = (320, 750)
#: the copy a product image shows in lists (``ProductImage.thumb_path``)
PRODUCT_THUMB = "320"
MAX_ASSETS = 2000
NAME_RE = re.compile(r"^[0-9a-f]{32}(?:_\d{2,4})?\.(?:jpg|png|webp)$")
_DISPLAY_NAME = re.compile(r"[^\w .()\-\u4e00-\u9fff]+")


class InUse(Exception):
    """An image that is shown somewhere cannot be deleted: ``uses`` says where."""

    def __init__(self, uses: list[Use]):
        super().__init__(f"used {len(uses)} times")
        self.uses = uses
        self.count = len(uses)

    @property
    def message(self) -> str:
        """Why the image cannot be deleted, naming every place it is shown (every surface says this)."""
        return _(
            "This image cannot be deleted while it is used: %(places)s. Take it off there first.",
            places=_(", ").join(use_label(u) for u in self.uses),
        )


def use_label(use: Use) -> str:
    """``商品“临安山核桃”`` / ``页面“店铺首页”（草稿）``: one place an image is shown."""
    if use.kind == "product":
        return _("product “%(title)s”", title=use.title)
    state = {"draft": _("Draft"), "live": _("Live")}.get(use.state) or _("version %(n)s", n=use.number)
    return _("page “%(title)s” (%(state)s)", title=use.title, state=state)


def folder(store_id: int | None = None) -> str:
    return f"stores/{store_id if store_id is not None else current_store().id}/media"


def url(path: str | None) -> str | None:
    """The public address of a library file of the active store (None for anything else)."""
    if not path:
        return None
    prefix = f"uploads/{folder()}/"
    name = path[len(prefix) :] if path.startswith(prefix) else ""
    return url_for("pages.library", name=name) if NAME_RE.match(name) else None


def file_for(name: str) -> str | None:
    """The relative path of the library file ``name`` of the active store, if the name is one."""
    return f"uploads/{folder()}/{name}" if NAME_RE.match(name or "") else None


def display_name(filename: str | None) -> str:
    stem = Path(filename or "").name
    return _DISPLAY_NAME.sub("", stem).strip()[:100]


def owns(path: str | None) -> bool:
    """Is ``path`` a file of the active store's library (not, say, an older product upload)?"""
    return bool(path) and path.startswith(f"uploads/{folder()}/")


def files_of(asset: MediaAsset) -> list[str]:
    return [asset.path, *asset.thumbnails.values()]


class StoreNotOpen(Refused):
    """A store that is not open (pending review, suspended, closed) uploads only its qualification
    documents, never library images (409)."""

    def __init__(self):
        super().__init__(
            409,
            "store_not_open",
            _(
                "Images can be uploaded only while the store is open. Until it "
                "is, only its qualification documents can be uploaded."
            ),
        )


#: the 409 in the ``responses=`` of every API operation that adds library images
NOT_OPEN_RESPONSE = {
    "description": "The store is not open: until it is, only qualification documents can be uploaded",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def check_uploads_allowed() -> None:
    """Every upload into the library (editor, product form and API, library page, media API)
    passes here first: :class:`StoreNotOpen` unless the active store is open."""
    store = current_store()
    if store is None or not store.is_open:
        raise StoreNotOpen()


def add(file_storage, *, actor=None) -> MediaAsset:
    """Check, re-encode and keep an uploaded image as part of the caller's transaction (flushed,
    not committed; ``ValidationFailed`` on field ``image``). A caller that rolls back deletes the
    asset's files (:func:`files_of`). Refused (:class:`StoreNotOpen`, 409) for a store that is
    not open, before the file is read; :class:`~mallow.media.upload_limits.ImagesBusy` (503) when the
    process has no image slot free in time."""
    check_uploads_allowed()
    count = db.session.execute(sa.select(sa.func.count()).select_from(MediaAsset)).scalar_one()
    if count >= MAX_ASSETS:
        raise ValidationFailed(
            {"image": ("too_many", _("The library holds at most %(max)s images: delete unused ones.", max=MAX_ASSETS))}
        )
    try:
        stored = store_image(file_storage, folder(), thumbnails=THUMBNAILS)
    except ImageRejected as rejected:
        raise ValidationFailed({"image": (rejected.code, rejection_message(rejected.code))}) from None
    asset = MediaAsset(
        path=stored.path,
        thumbnails={str(w): p for w, p in stored.thumbnails.items()},
        width=stored.width,
        height=stored.height,
        bytes=stored.bytes,
        name=display_name(getattr(file_storage, "filename", "")),
    )
    db.session.add(asset)
    try:
        db.session.flush()
    except Exception:
        delete_files(stored.path, *stored.thumbnails.values())
        raise
    audit.record("media.uploaded", actor=actor, store_id=current_store().id, target=f"media:{asset.id}")
    return asset


def upload(file_storage, *, actor=None) -> MediaAsset:
    """:func:`add` an image and commit."""
    asset = add(file_storage, actor=actor)
    paths = files_of(asset)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        delete_files(*paths)
        raise
    return asset


def delete_files(*paths: str) -> None:
    for path in paths:
        if path:
            delete_stored(path)


def assets(page: int = 1, per_page: int = 60) -> tuple[int, list[MediaAsset]]:
    total = db.session.execute(sa.select(sa.func.count()).select_from(MediaAsset)).scalar_one()
    rows = list(
        db.session.execute(
            sa.select(MediaAsset).order_by(MediaAsset.id.desc()).limit(per_page).offset((page - 1) * per_page)
        ).scalars()
    )
    return total, rows


def as_id(value) -> int | None:
    """``value`` as a positive id (``12``, ``"12"``), else None."""
    if isinstance(value, (bool, float)):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= ID_MAX else None


def get(asset_id) -> MediaAsset | None:
    number = as_id(asset_id)
    return db.session.get(MediaAsset, number) if number is not None else None


def get_many(asset_ids) -> dict[int, MediaAsset]:
    """``{id: asset}`` for the ids that are images of this store's library (others are left out)."""
    ids = {number for number in map(as_id, asset_ids) if number is not None}
    if not ids:
        return {}
    return {a.id: a for a in db.session.execute(sa.select(MediaAsset).where(MediaAsset.id.in_(ids))).scalars()}


def ids_by_path(paths) -> dict[str, int]:
    """``{path: asset id}`` for the paths that are library images (product images → their asset)."""
    paths = {p for p in paths if p}
    if not paths:
        return {}
    return dict(db.session.execute(sa.select(MediaAsset.path, MediaAsset.id).where(MediaAsset.path.in_(paths))).all())


def uses(assets_: list[MediaAsset]) -> dict[int, list[Use]]:
    """Where each image is shown: ``{asset id: [Use]}`` (pages in page order, then products), as
    the domains that show images tell (:mod:`mallow.media.usage`)."""
    return usage_finders.find(assets_)


def usage(assets_: list[MediaAsset]) -> Counter:
    """``{asset id: number of uses}`` (see :func:`uses`)."""
    return Counter({media_id: len(places) for media_id, places in uses(assets_).items()})


def delete(asset_id, *, actor=None) -> None:
    """Delete the image ``asset_id`` and its files: the one delete behind the API's
    ``deleteMedia`` (which the editor's picker calls too) and the console's library page.

    Raises ``NotFound`` (404) when the active store has no such image (another store's id is not
    a row here), and ``InUse`` (nothing deleted) while a page's draft or kept version or a
    product shows it."""
    asset = get(asset_id)
    if asset is None:
        raise NotFound()
    places = uses([asset]).get(asset.id, [])
    if places:
        raise InUse(places)
    paths = files_of(asset)
    db.session.delete(asset)
    audit.record("media.deleted", actor=actor, store_id=current_store().id, target=f"media:{asset.id}")
    db.session.commit()
    delete_files(*paths)


def use_json(use: Use) -> dict:
    return {"kind": use.kind, "id": use.id, "title": use.title, "state": use.state, "number": use.number}


def asset_json(asset: MediaAsset, uses: int | None = None, places: list[Use] | None = None) -> dict:
    """The API's view of an image; ``uses`` (a count) and ``places`` (:func:`uses`) when given."""
    thumb = asset.thumbnails.get(PRODUCT_THUMB) or asset.path
    data = {
        "id": asset.id,
        "name": asset.name,
        "width": asset.width,
        "height": asset.height,
        "bytes": asset.bytes,
        "url": url(asset.path),
        "thumbnail_url": url(thumb),
        "created_at": asset.created_at.isoformat(),
    }
    if places is not None:
        data["uses"], data["used_by"] = len(places), [use_json(u) for u in places]
    elif uses is not None:
        data["uses"] = uses
    return data
