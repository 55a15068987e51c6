"""SKU pictures (规格图): a SKU may show its own image of the store's media library.

The API and the console form both give a SKU's image as ``"image": <media library id>`` (or
``None`` to take it away) in the SKU entries :func:`mallow.catalog.products.create` / ``update``
take; the console form may upload a file for a row instead (:func:`store_uploads`, joining the
library in the save's transaction like the product's own uploads). An id that is not an image
of the active store's library (another store's, a deleted one) is a field error on
``skus.<i>.image``.

A SKU without an image is shown with the product's first image. Taking an image off the
product's gallery leaves the SKUs that show it alone (it is still a library image); deleting it
from the library is refused while a SKU shows it (:func:`mallow.media.library.uses` names the
SKU's product).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.db import db
from mallow.media import library
from mallow.media.models import MediaAsset
from mallow.validation import Errors, ValidationFailed


def checked_id(raw, field: str, errors: Errors) -> int | None:
    """The library image id ``raw`` names (``None``/``""``: no image), or a field error."""
    if raw is None or raw == "":
        return None
    asset = library.get(raw) if not isinstance(raw, bool) else None
    if asset is None:
        errors.add(field, "not_found", _("Choose an image from this store's media library."))
        return None
    return asset.id


def store_uploads(entries, uploads: dict, errors: Errors, new_files: list):
    """``entries`` (the SKU list given to a save) with ``image`` set to the library image each
    upload of ``uploads`` (``{index in entries: file}``) became; an upload's files are added to
    ``new_files`` (deleted if the save rolls back), a refused file is a field error on
    ``skus.<i>.image``."""
    if not uploads or not isinstance(entries, list):
        return entries
    entries = list(entries)
    for index in sorted(uploads):
        upload = uploads[index]
        if (
            upload is None
            or not getattr(upload, "filename", None)
            or not 0 <= index < len(entries)
            or not isinstance(entries[index], dict)
        ):
            continue
        try:
            asset = library.add(upload)
        except ValidationFailed as failed:
            code, text = next(iter(failed.errors.values()))
            errors.add(f"skus.{index}.image", code, text)
            continue
        new_files += library.files_of(asset)
        entries[index] = {**entries[index], "image": asset.id}
    return entries


def assets_of(skus) -> dict[int, MediaAsset]:
    """``{media id: library image}`` for the images ``skus`` show, in one query."""
    ids = {sku.media_id for sku in skus if sku.media_id is not None}
    if not ids:
        return {}
    return {a.id: a for a in db.session.execute(sa.select(MediaAsset).where(MediaAsset.id.in_(ids))).scalars()}


def thumb_path(asset: MediaAsset) -> str:
    """The small copy a list or the option sheet shows (as ``ProductImage.thumb_path``)."""
    return asset.thumbnails.get(library.PRODUCT_THUMB) or asset.path


def image_json(asset: MediaAsset | None, image_url) -> dict | None:
    """The API's ``image`` of a SKU (``image_url(path)`` makes the addresses), or None."""
    if asset is None:
        return None
    return {
        "media_id": asset.id,
        "url": image_url(asset.path),
        "thumb_url": image_url(thumb_path(asset)),
        "width": asset.width,
        "height": asset.height,
    }
