"""Checking and re-encoding an uploaded image (see :mod:`mallow.media.images`): the format and
pixel count from the header alone, decoding at a reduced size, pixels only (EXIF rotation applied,
converted to sRGB, eight bits), thumbnails from the reduced copy; :class:`ImageRejected` and its
messages."""

from __future__ import annotations

import io

from flask import current_app
from PIL import Image, ImageCms, UnidentifiedImageError

from mallow.media.upload_limits import Refused, image_slot

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


def check_and_reencode(data: bytes, max_pixels: int | None, thumb_widths) -> tuple[bytes, str, int, int, dict]:
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
