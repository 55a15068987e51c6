"""Accepting an uploaded image: size, magic bytes, pixel count, bounded memory, re-encoding; here
the upload is read within its byte limit and the re-encoded image stored (:func:`store_image`),
checked and re-encoded by :mod:`mallow.media.image_checks` within the per-process limits of
:mod:`mallow.media.upload_limits`.

The browser's file name and content type are ignored: Pillow decides what the bytes are,
only JPEG, PNG and WebP are accepted, and the image is re-encoded under a name the server makes.

Memory (``bench/uploads.py`` measures it): a small file can declare a huge picture (a 155 KB
PNG of 40 Mpx decodes to 160 MB), so

* an image is refused by the dimensions in its header, before a single pixel is decoded
  (``MALLOW_UPLOAD_MAX_PIXELS``, chosen from a memory budget: see :mod:`mallow.config`);
* it is decoded at a reduced size where the format allows (JPEG: ``draft`` makes libjpeg decode
  at 1/2, 1/4 or 1/8 scale), otherwise reduced by an integer factor right after decoding, and
  the full-size bitmap is closed at once;
* the stored copy is at most ``MALLOW_UPLOAD_MAX_SIDE`` pixels on its longer side, and the
  thumbnails are made from that copy, never from the original again;
* at most ``MALLOW_UPLOAD_CONCURRENCY`` images are decoded at a time per process; an upload
  that cannot get a turn within ``MALLOW_UPLOAD_WAIT_SECONDS`` is answered 503 "busy, try
  again" (:class:`ImagesBusy`) instead of queueing without bound;
* every image is closed when done, and freed heap is handed back to the system (glibc's
  ``malloc_trim``), so a burst of uploads does not leave the process gigabytes larger.

A full disk (``ENOSPC``), a full quota (``EDQUOT``) or a file size limit (``EFBIG``) while the
files are written is :class:`~mallow.media.upload_limits.StorageFull` (507): every file of the
image written so far is deleted, and each file is written under a temporary name first and
renamed when complete, so no half-written file is ever left under an image's name.

Re-encoding keeps pixels only: no EXIF (its rotation is applied to the pixels first), no XMP,
no JPEG comment or APP segment, no PNG text chunk, no colour profile (pixels in another
profile are converted to sRGB first), nothing after the image data.
"""

from __future__ import annotations

import errno
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from mallow.media.image_checks import ImageRejected, check_and_reencode
from mallow.media.upload_limits import StorageFull

#: what a write says when there is no room: disk full, quota full, file size limit
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@dataclass(frozen=True)
class StoredImage:
    path: str  # relative to the data dir
    width: int
    height: int
    bytes: int
    #: ``{width: relative path}`` of the smaller copies asked for (see :func:`store_image`)
    thumbnails: dict = field(default_factory=dict)


def read_upload(file_storage, max_bytes: int | None = None) -> bytes:
    max_bytes = max_bytes or current_app.config["MALLOW_UPLOAD_MAX_BYTES"]
    if file_storage is None or not getattr(file_storage, "filename", None):
        raise ImageRejected("required", "no file")
    data = file_storage.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"larger than {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise ImageRejected("empty", "empty file")
    return data


def store_image(file_storage, folder: str, thumbnails: tuple[int, ...] = ()) -> StoredImage:
    """Check ``file_storage`` and save it under ``<data dir>/uploads/<folder>/``.

    ``thumbnails`` lists widths (e.g. ``(320,)``) of smaller copies to save beside it, named
    ``<name>_<width>.<ext>`` (an image narrower than a width is copied at its own size); their
    paths are in ``StoredImage.thumbnails``. ``folder`` is made by the server, never taken from
    a request (prefix it with the store, e.g. ``stores/<id>/products``). Raises
    :class:`ImageRejected` for a file that is not accepted and :class:`ImagesBusy` when no image
    slot came free in time.
    """
    if ".." in Path(folder).parts or Path(folder).is_absolute():
        raise ValueError(f"bad upload folder {folder!r}")
    data = read_upload(file_storage)
    encoded, ext, width, height, thumbs = check_and_reencode(data, None, tuple(thumbnails))
    del data
    name = secrets.token_hex(16)
    base = Path(current_app.config["MALLOW_DATA_DIR"])
    relative = Path("uploads") / folder / f"{name}.{ext}"
    thumb_paths = {width: str(Path("uploads") / folder / f"{name}_{width}.{ext}") for width in thumbs}
    written: list[Path] = []
    try:
        (base / relative).parent.mkdir(parents=True, exist_ok=True)
        _write(base / relative, encoded, written)
        for thumb_width, (thumb_bytes, _w, _h) in thumbs.items():
            _write(base / thumb_paths[thumb_width], thumb_bytes, written)
    except OSError as error:
        for path in written:
            path.unlink(missing_ok=True)
        if error.errno in NO_ROOM:
            raise StorageFull() from error
        raise
    return StoredImage(str(relative), width, height, len(encoded), thumb_paths)


def _write(target: Path, data: bytes, written: list[Path]) -> None:
    """Write ``data`` to ``target`` under a temporary name, renamed when complete (a failed
    write deletes its temporary file); ``target`` joins ``written``."""
    partial = target.with_name(f".{target.name}.part")
    try:
        with open(partial, "wb") as file:
            file.write(data)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    written.append(target)


def delete_stored(relative: str) -> None:
    target = (Path(current_app.config["MALLOW_DATA_DIR"]) / relative).resolve()
    uploads = (Path(current_app.config["MALLOW_DATA_DIR"]) / "uploads").resolve()
    if uploads in target.parents and target.exists():
        target.unlink()


def absolute_path(relative: str) -> Path | None:
    """The file for a stored relative path, or None if it points outside the uploads."""
    uploads = (Path(current_app.config["MALLOW_DATA_DIR"]) / "uploads").resolve()
    target = (Path(current_app.config["MALLOW_DATA_DIR"]) / relative).resolve()
    return target if uploads in target.parents and target.is_file() else None
