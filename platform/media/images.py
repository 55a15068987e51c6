"""Accepting an uploaded image: size, magic bytes, pixel count, re-encoding.

The browser's file name and content type are ignored: Pillow decides what the bytes are,
only JPEG, PNG and WebP are accepted, and the image is re-encoded (dropping metadata and
anything hidden after the image data) under a name the server makes.
"""
from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


class ImageRejected(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


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


def _encode(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
    elif kind == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=88)
    return out.getvalue()


def _open_checked(data: bytes, max_pixels: int | None) -> tuple[Image.Image, str]:
    """The decoded image (upright: a camera's EXIF rotation is applied) and its format."""
    max_pixels = max_pixels or current_app.config["MALLOW_UPLOAD_MAX_PIXELS"]
    with Image.open(io.BytesIO(data)) as probe:
        kind = probe.format
        width, height = probe.size
        if kind not in ACCEPTED:
            raise ImageRejected("not_image", "not a JPEG, PNG or WebP image")
        if width * height > max_pixels:
            raise ImageRejected("too_many_pixels", "image dimensions too large")
        probe.verify()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)  # a new image: safe after the file closes
    return upright, kind


def check_and_reencode(data: bytes, max_pixels: int | None = None) -> tuple[bytes, str, int, int]:
    encoded, ext, width, height, _thumbs = _check_and_reencode(data, max_pixels, ())
    return encoded, ext, width, height


def _check_and_reencode(data: bytes, max_pixels: int | None, thumb_widths) -> tuple[bytes, str, int, int, dict]:
    try:
        image, kind = _open_checked(data, max_pixels)
        with image:
            width, height = image.size
            encoded = _encode(image, kind)
            thumbs = {}
            for thumb_width in thumb_widths:
                copy = image.copy()
                if copy.width > thumb_width:
                    copy.thumbnail((thumb_width, max(1, round(copy.height * thumb_width / copy.width))),
                                   Image.Resampling.LANCZOS)
                thumbs[thumb_width] = (_encode(copy, kind), copy.width, copy.height)
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRejected("not_image", "not a readable image") from None
    return encoded, ACCEPTED[kind], width, height, thumbs


def store_image(file_storage, folder: str, thumbnails: tuple[int, ...] = ()) -> StoredImage:
    """Check ``file_storage`` and save it under ``<data dir>/uploads/<folder>/``.

    ``thumbnails`` lists widths (e.g. ``(320,)``) of smaller copies to save beside it, named
    ``<name>_<width>.<ext>`` (an image narrower than a width is copied at its own size); their
    paths are in ``StoredImage.thumbnails``. ``folder`` is made by the server, never taken from
    a request (prefix it with the store, e.g. ``stores/<id>/products``).
    """
    if ".." in Path(folder).parts or Path(folder).is_absolute():
        raise ValueError(f"bad upload folder {folder!r}")
    data = read_upload(file_storage)
    encoded, ext, width, height, thumbs = _check_and_reencode(data, None, tuple(thumbnails))
    name = secrets.token_hex(16)
    base = Path(current_app.config["MALLOW_DATA_DIR"])
    relative = Path("uploads") / folder / f"{name}.{ext}"
    (base / relative).parent.mkdir(parents=True, exist_ok=True)
    (base / relative).write_bytes(encoded)
    thumb_paths = {}
    for thumb_width, (thumb_bytes, _w, _h) in thumbs.items():
        thumb_relative = Path("uploads") / folder / f"{name}_{thumb_width}.{ext}"
        (base / thumb_relative).write_bytes(thumb_bytes)
        thumb_paths[thumb_width] = str(thumb_relative)
    return StoredImage(str(relative), width, height, len(encoded), thumb_paths)


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


def rejection_message(code: str) -> str:
    """The user-facing message for an :class:`ImageRejected` code (in the request's language)."""
    from flask_babel import gettext as _

    messages = {
        "required": lambda: _("Upload a photo or scan (JPEG, PNG or WebP)."),
        "too_large": lambda: _("The file is larger than 5 MB."),
        "empty": lambda: _("The file is empty."),
        "not_image": lambda: _("This is not a JPEG, PNG or WebP image."),
        "too_many_pixels": lambda: _("The image is too large (too many pixels)."),
    }
    return messages.get(code, messages["not_image"])()
