"""A product's images: images of the store's media library (:mod:`mallow.media.library`).

``"media_ids": [12, 7]`` makes them exactly these library images in this order; uploads join the
library first; the console form also adds chosen library images (``picks``) and removes or
reorders the product's images. Removing an image from a product keeps it in the library; the
files of older uploads that were never library images are deleted once the removal is committed
(:class:`SavedFiles`).
"""

from __future__ import annotations

import dataclasses

from flask_babel import gettext as _

from mallow import audit
from mallow.catalog.models import Product, ProductImage
from mallow.db import db
from mallow.media import library
from mallow.tenants.context import current_store
from mallow.validation import Errors, ValidationFailed

MAX_IMAGES = 9


def gather(
    product: Product, data: dict, *, creating: bool, picks, uploads, errors: Errors, files: SavedFiles
) -> tuple[list[ProductImage], list]:
    """The images a save leaves on ``product``: ``(rows it keeps, in order; library images to
    add)``. ``data["media_ids"]`` replaces them all; ``picks`` (library ids) and ``uploads`` are
    added. Checked before anything is written (a bad file leaves no product and no library
    image); uploads join the library now and their files are listed in ``files.new``."""
    kept = [] if creating else sorted(product.images, key=lambda image: (image.sort, image.id or 0))
    chosen: list = []
    if "media_ids" in data:
        chosen = library_images(data.get("media_ids"), "media_ids", errors)
        kept = []
    on_product = {image.path for image in kept} | {asset.path for asset in chosen}
    chosen += [asset for asset in library_images(list(picks or ()), "images", errors) if asset.path not in on_product]
    uploads = [f for f in (uploads or []) if f is not None and getattr(f, "filename", None)]
    if len(kept) + len(chosen) + len(uploads) > MAX_IMAGES:
        errors.add("images", "too_many", _("A product has at most %(max)s images.", max=MAX_IMAGES))
        uploads = []
    for upload in uploads:
        try:
            asset = library.add(upload)
        except ValidationFailed as failed:
            code, text = next(iter(failed.errors.values()))
            errors.add("images", code, text)
            break
        files.new += library.files_of(asset)
        chosen.append(asset)
    return kept, chosen


def library_images(raw, field: str, errors: Errors) -> list:
    """The library images (of this store) named by ``raw``, a list of ids, in its order."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or any(isinstance(v, bool) for v in raw):
        errors.add(field, "invalid", _("Choose images from this store's media library."))
        return []
    if len(raw) > MAX_IMAGES:
        errors.add(field, "too_many", _("A product has at most %(max)s images.", max=MAX_IMAGES))
        return []
    found = library.get_many(raw)
    chosen: list = []
    for value in raw:
        asset = found.get(library.as_id(value))
        if asset is None:
            errors.add(field, "not_found", _("Choose images from this store's media library."))
            return []
        if asset in chosen:
            errors.add(field, "duplicate", _("An item is chosen twice."))
            return []
        chosen.append(asset)
    return chosen


def set_images(product: Product, kept: list, assets: list) -> list[ProductImage]:
    """The product's images become ``kept`` (rows it has, in order) then ``assets`` (library
    images); the rows left out are taken off the product and returned."""
    rows = {image.path: image for image in product.images}
    ordered = list(kept)
    for asset in assets:
        row = rows.get(asset.path)
        if row is None:
            row = ProductImage(
                path=asset.path,
                thumb_path=asset.thumbnails.get(library.PRODUCT_THUMB) or asset.path,
                width=asset.width,
                height=asset.height,
            )
            product.images.append(row)
        ordered.append(row)
    removed = [image for image in product.images if image not in ordered]
    for image in removed:
        product.images.remove(image)
    for index, image in enumerate(ordered):
        image.sort = index
    return removed


@dataclasses.dataclass
class SavedFiles:
    """Files a save uploaded (deleted if it fails) and files of older product uploads that are
    not library images and that it removed (deleted once it is committed)."""

    new: list = dataclasses.field(default_factory=list)
    dropped: list = dataclasses.field(default_factory=list)

    def drop(self, rows) -> None:
        self.dropped += [path for row in rows if not library.owns(row.path) for path in (row.path, row.thumb_path)]


def remove_images(product: Product, image_ids) -> list[ProductImage]:
    """Take the product's images with these ids off it (not committed); returns their rows."""
    ids = {number for number in map(library.as_id, image_ids or ()) if number is not None}
    removed = [image for image in product.images if image.id in ids]
    for image in removed:
        product.images.remove(image)
    return removed


def remove_image(product: Product, image_id: int, *, actor=None) -> bool:
    """Take one image off the product (a library image stays in the library)."""
    files = SavedFiles()
    removed = remove_images(product, [image_id])
    if not removed:
        return False
    files.drop(removed)
    set_images(product, sorted(product.images, key=lambda image: image.sort), [])
    audit.record("product.image_removed", actor=actor, store_id=current_store().id, target=f"product:{product.id}")
    db.session.commit()
    library.delete_files(*files.dropped)
    return True
