"""Accepting an uploaded image: size, magic bytes, pixel count, re-encoding.

The browser's file name and content type are ignored: Pillow decides what the bytes are,
only JPEG, PNG and WebP are accepted, and the image is re-encoded (dropping metadata and
anything hidden after the image data) under a name the server makes.
"""
from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from PIL import Image, UnidentifiedImageError

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


def check_and_reencode(data: bytes, max_pixels: int | None = None) -> tuple[bytes, str, int, int]:
    max_pixels = max_pixels or current_app.config["MALLOW_UPLOAD_MAX_PIXELS"]
    try:
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
            out = io.BytesIO()
            if kind == "JPEG":
                image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
            elif kind == "PNG":
                image.save(out, "PNG", optimize=True)
            else:
                image.save(out, "WEBP", quality=88)
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRejected("not_image", "not a readable image") from None
    return out.getvalue(), ACCEPTED[kind], width, height


def store_image(file_storage, folder: str) -> StoredImage:
    """Check ``file_storage`` and save it under ``<data dir>/uploads/<folder>/``."""
    data = read_upload(file_storage)
    encoded, ext, width, height = check_and_reencode(data)
    relative = Path("uploads") / folder / f"{secrets.token_hex(16)}.{ext}"
    target = Path(current_app.config["MALLOW_DATA_DIR"]) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(encoded)
    return StoredImage(str(relative), width, height, len(encoded))


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
