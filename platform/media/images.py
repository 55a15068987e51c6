"""Accepting an uploaded image: size, magic bytes, pixel count, bounded memory, re-encoding.

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

Re-encoding keeps pixels only: no EXIF (its rotation is applied to the pixels first), no XMP,
no JPEG comment or APP segment, no PNG text chunk, no colour profile (pixels in another
profile are converted to sRGB first), nothing after the image data.
"""

from __future__ import annotations

import ctypes
import io
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app, has_request_context, jsonify, make_response, render_template_string
from PIL import Image, ImageCms, UnidentifiedImageError
from werkzeug.exceptions import HTTPException

ACCEPTED = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
#: what decoding needs per pixel, relative to a PNG or JPEG (4 bytes: Pillow keeps RGB as 32 bits).
#: Pillow's WebP decoder holds libwebp's two canvases and a copy besides the bitmap (~16 bytes a
#: pixel, measured by bench/uploads.py), so a WebP may have a quarter of the pixels.
DECODE_COST = {"JPEG": 1, "PNG": 1, "WEBP": 4}
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_RESIZABLE = {"L", "LA", "RGB", "RGBA", "CMYK", "I", "I;16", "F"}
_TO_8BIT = [value >> 8 for value in range(65536)]


class ImageRejected(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Refused(HTTPException):
    """An upload refused for a reason that is not the file's: answered with ``code`` and
    ``{"error": error, "message": message}`` to the API and to scripts asking for JSON, with a
    page showing the message to a browser. The response is made when raised (in the request)."""

    def __init__(self, code: int, error: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.code, self.error, self.retry_after = code, error, retry_after
        self.response = _refusal_response(self) if has_request_context() else None


class ImagesBusy(Refused):
    """Every image slot of this process stayed taken for ``MALLOW_UPLOAD_WAIT_SECONDS`` (503)."""

    def __init__(self, retry_after: int = 5):
        from flask_babel import gettext as _

        super().__init__(
            503,
            "busy",
            _("The server is busy processing other images. Try again in a few seconds."),
            retry_after=retry_after,
        )


#: the 503 in the ``responses=`` of every API operation that takes an image
BUSY_RESPONSE = {
    "description": "Busy processing other images: try again after Retry-After seconds",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

_REFUSAL_PAGE = """{% extends "base.html" %}{% block title %}{{ code }}{% endblock %}
{% block content %}<section class="card narrow"><h1>{{ code }}</h1><p>{{ message }}</p>
<p><a href="{{ url_for('home.index') }}">{{ _("Back to the start") }}</a></p></section>{% endblock %}"""


def _refusal_response(refused: Refused):
    from mallow.web import _wants_json

    body = {"error": refused.error, "message": refused.description}
    if refused.retry_after:
        body["retry_after"] = refused.retry_after
    if _wants_json():
        response = jsonify(body)
    else:
        response = make_response(render_template_string(_REFUSAL_PAGE, code=refused.code, message=refused.description))
    response.status_code = refused.code
    if refused.retry_after:
        response.headers["Retry-After"] = str(refused.retry_after)
    return response


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


# --- one image at a time (or a few): the per-process slots ---------------------------------

_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _semaphore(count: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        if count not in _slots:
            _slots[count] = threading.BoundedSemaphore(count)
        return _slots[count]


@contextmanager
def image_slot():
    """Hold one of the process's ``MALLOW_UPLOAD_CONCURRENCY`` image slots (memory is per
    process, so the slots are too); :class:`ImagesBusy` after ``MALLOW_UPLOAD_WAIT_SECONDS``."""
    config = current_app.config
    slots = _semaphore(max(1, int(config["MALLOW_UPLOAD_CONCURRENCY"])))
    if not slots.acquire(timeout=max(0.0, float(config["MALLOW_UPLOAD_WAIT_SECONDS"]))):
        raise ImagesBusy()
    try:
        yield
    finally:
        slots.release()
        _give_back_memory()


_trim: list = []  # [malloc_trim or None], looked up on first use


def _malloc_trim():
    if not _trim:
        try:
            trim = ctypes.CDLL("libc.so.6").malloc_trim
            trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
            trim = None
        _trim.append(trim)
    return _trim[0]


def _give_back_memory() -> None:
    """Return freed heap pages to the system. glibc keeps what a thread freed in that thread's
    arena, and raises its mmap threshold after a large free, so Pillow's bitmaps of a burst of
    uploads would otherwise stay in the process's RSS (the issue: 2.1 GB after eight uploads)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


# --- checking and re-encoding ----------------------------------------------------------------


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _probe(data: bytes, max_pixels: int | None) -> tuple[str, tuple[int, int]]:
    """Format and size from the header alone; refused here, before decoding, when too large."""
    max_pixels = max_pixels or current_app.config["MALLOW_UPLOAD_MAX_PIXELS"]
    with Image.open(io.BytesIO(data)) as probe:
        kind, size = probe.format, probe.size
        if kind not in ACCEPTED:
            raise ImageRejected("not_image", "not a JPEG, PNG or WebP image")
        if size[0] * size[1] * DECODE_COST[kind] > max_pixels:
            raise ImageRejected("too_many_pixels", "image dimensions too large")
        probe.verify()  # chunk checksums, no decoding
    return kind, size


def _normalise(image: Image.Image) -> Image.Image:
    """``image`` in a mode that can be resized and saved: a transparent colour becomes an alpha
    channel, a palette RGB(A), 1-bit grey 8-bit grey (a new image when converted)."""
    mode = image.mode
    if "transparency" in image.info and mode in ("1", "L", "P", "RGB"):
        return image.convert("RGBA")
    if mode in ("P", "PA"):
        return image.convert("RGBA" if mode == "PA" else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode in _RESIZABLE:
        return image
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Pixels described by an embedded colour profile, converted to sRGB (the profile itself is
    not kept: it can carry text). A profile that cannot be used is dropped."""
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip()
        if (space, image.mode) in (("CMYK", "CMYK"), ("RGB", "RGB"), ("RGB", "RGBA")):
            return ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGBA" if image.mode == "RGBA" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError, AttributeError):
        pass
    return image


def _eight_bit(image: Image.Image, kind: str) -> Image.Image:
    """Modes the output format takes: 16/32-bit grey scaled to 8 bits, CMYK (no profile) to RGB."""
    if image.mode == "I;16":
        return image.point(lambda value: value / 256).convert("L")
    if image.mode in ("I", "F"):
        return image.convert("I").point(_TO_8BIT, "L")
    if image.mode == "CMYK" or (kind == "JPEG" and image.mode not in ("L", "RGB")):
        return image.convert("RGB")
    return image


def _encode(image: Image.Image, kind: str) -> bytes:
    image.info = {}  # nothing of the upload's metadata reaches the encoder (Pillow reads some from info)
    out = io.BytesIO()
    if kind == "JPEG":
        image.save(out, "JPEG", quality=88, optimize=True)
    elif kind == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=88)
    return out.getvalue()


def _resize(image: Image.Image, size: tuple[int, int], band: int = 256) -> Image.Image:
    """Lanczos to ``size``, ``band`` output rows at a time: Pillow resizes across, then down, and
    the picture between the two passes is then a band's height, not the whole image's (the
    result is the same, to rounding)."""
    if size == image.size:
        return image.copy()
    out = Image.new(image.mode, size)
    scale = image.height / size[1]
    for top in range(0, size[1], band):
        bottom = min(size[1], top + band)
        with image.resize(
            (size[0], bottom - top), Image.Resampling.LANCZOS, box=(0, top * scale, image.width, bottom * scale)
        ) as piece:
            out.paste(piece, (0, top))
    return out


def _decode_reduced(data: bytes, kind: str, size: tuple[int, int], max_side: int) -> Image.Image:
    """The upright picture at most ``max_side`` on its longer side, in sRGB, without metadata.

    The full-size bitmap lives only until it is reduced: a JPEG is decoded at the smallest scale
    (1/2, 1/4, 1/8) still at least the target, any other image is box-reduced by a whole factor
    (a 1/factor² copy) and closed, and only then resized the rest of the way."""
    target = _fit(size, max_side)
    with Image.open(io.BytesIO(data)) as image:
        if kind == "JPEG" and target != size:
            image.draft(None, target)
        image.load()
        orientation = image.getexif().get(0x0112)
        icc = image.info.get("icc_profile")
        work = _normalise(image)
        step = work
        try:
            factor = min(work.width // target[0], work.height // target[1])
            if factor >= 2 and work.mode not in ("I;16", "I", "F"):  # reduce() takes no 16/32-bit grey
                step = work.reduce(factor)
            elif work.size != target:
                step = _resize(work, target)
            elif work is image:  # keep the bitmap, not the file (WebP's decoder holds two canvases)
                step = image._new(image.im)
        finally:
            if work is not image and work is not step:
                work.close()
    # the full-size bitmap is closed: only the reduced copy lives on
    for change in (
        lambda im: _resize(im, target) if im.size != target else im,
        lambda im: _to_srgb(im, icc),
        lambda im: _eight_bit(im, kind),
        lambda im: im.transpose(_ORIENTATION[orientation]) if orientation in _ORIENTATION else im,
    ):
        result = change(step)
        if result is not step:
            step.close()
            step = result
    step.info = {}
    return step


def _thumbnail(image: Image.Image, width: int) -> Image.Image:
    if image.width <= width:
        return image
    return image.resize(
        (width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS, reducing_gap=3.0
    )


def check_and_reencode(data: bytes, max_pixels: int | None = None) -> tuple[bytes, str, int, int]:
    encoded, ext, width, height, _thumbs = _check_and_reencode(data, max_pixels, ())
    return encoded, ext, width, height


def _check_and_reencode(data: bytes, max_pixels: int | None, thumb_widths) -> tuple[bytes, str, int, int, dict]:
    """``(bytes, extension, width, height, {width: (bytes, width, height)})`` of the re-encoded
    image and its thumbnails (all made from one reduced copy)."""
    try:
        kind, size = _probe(data, max_pixels)
        with image_slot():
            image = _decode_reduced(data, kind, size, int(current_app.config["MALLOW_UPLOAD_MAX_SIDE"]))
            with image:
                encoded = _encode(image, kind)
                thumbs = {}
                for thumb_width in sorted(thumb_widths, reverse=True):
                    thumb = _thumbnail(image, thumb_width)
                    if thumb is image:
                        thumbs[thumb_width] = (encoded, image.width, image.height)
                        continue
                    with thumb:
                        thumbs[thumb_width] = (_encode(thumb, kind), thumb.width, thumb.height)
                width, height = image.size
    except (ImageRejected, Refused):
        raise
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours: too many pixels all the same
        raise ImageRejected("too_many_pixels", "image dimensions too large") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected("not_image", "not a readable image") from None
    return encoded, ACCEPTED[kind], width, height, thumbs


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
    encoded, ext, width, height, thumbs = _check_and_reencode(data, None, tuple(thumbnails))
    del data
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
        "too_many_pixels": lambda: _(
            "The image has too many pixels: at most %(mpx)s megapixels (%(webp)s for WebP).",
            mpx=current_app.config["MALLOW_UPLOAD_MAX_PIXELS"] // 1_000_000,
            webp=current_app.config["MALLOW_UPLOAD_MAX_PIXELS"] // DECODE_COST["WEBP"] // 1_000_000,
        ),
    }
    return messages.get(code, messages["not_image"])()
