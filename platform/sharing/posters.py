"""Share posters (分享海报): a PNG, 750 px wide, drawn server-side with Pillow: the product's main
image (or a placeholder), its title wrapped for Chinese, its price in ¥ from integer fen, the
store's name and a QR code (segno) of the share link with the caption 长按识别二维码.

The Chinese text needs a CJK font: Debian's ``fonts-noto-cjk``
(:data:`DEFAULT_FONT`, or ``MALLOW_POSTER_FONT``). Without it the poster is still drawn, with
Pillow's own font, which has no Chinese glyphs: a warning is logged once and
:func:`font_found` says so (the poster's response carries ``X-Mallow-Poster-Font: fallback``).

Posters are kept on disk under ``<data dir>/cache/posters/<store id>/``, named by a hash of what
they show: the subject, the store's stamp (any catalogue, page or store write moves it), the
sharer's code and the language. :data:`MAX_FILES` per store at most (the oldest go first).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import segno
from flask import current_app
from PIL import Image, ImageDraw, ImageFont, ImageOps

log = logging.getLogger("mallow.sharing")

DEFAULT_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
WIDTH = 750
PHOTO = 750
MARGIN = 40
QR_SIDE = 220
HEIGHT = 1190
#: posters kept per store on disk
MAX_FILES = 500
BACKGROUND = (255, 255, 255)
INK = (34, 34, 34)
MUTED = (136, 136, 136)
PRICE = (230, 67, 64)
PLACEHOLDER = (242, 242, 242)


# -- fonts ---------------------------------------------------------------------------------------


def _font_path() -> str:
    return str(current_app.config.get("MALLOW_POSTER_FONT") or DEFAULT_FONT)


@functools.cache
def _collection_index(path: str) -> int:
    """The Simplified Chinese face of a font collection (Noto Sans CJK SC), else the first."""
    for index in range(10):
        try:
            name = ImageFont.truetype(path, 12, index=index).getname()[0]
        except OSError:
            break
        if name.endswith(" SC"):
            return index
    return 0


@functools.cache
def _warn_missing(path: str) -> None:
    log.warning(
        "sharing: the CJK font %s is missing (Debian: apt-get install fonts-noto-cjk); "
        "posters are drawn with Pillow's own font, without Chinese glyphs",
        path,
    )


@functools.lru_cache(maxsize=32)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(path, size, index=_collection_index(path))
    except OSError:
        _warn_missing(path)
        return ImageFont.load_default(size)


def font(size: int):
    return _font(_font_path(), size)


def font_found() -> bool:
    """Whether posters are drawn with the CJK font (False: the fallback, no Chinese glyphs)."""
    return os.path.isfile(_font_path()) and isinstance(font(20), ImageFont.FreeTypeFont) and _has_cjk(font(20))


def _has_cjk(face) -> bool:
    try:
        return face.getmask("中").getbbox() is not None
    except Exception:  # a bitmap font without the glyph
        return False


# -- text ----------------------------------------------------------------------------------------

#: a run of Latin letters or digits stays whole; anything else (a Chinese character) breaks anywhere
_TOKENS = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,'%-]*|\s+|.", re.S)
#: characters that may not start a line (避头标点)
_NO_START = set("，。、；：？！）》」』】,.;:?!)")


def wrap(text: str, face, width: int, max_lines: int) -> list[str]:
    """``text`` in lines no wider than ``width`` px, at most ``max_lines`` (the last one ends with
    an ellipsis when the text goes on)."""
    lines: list[str] = []
    line = ""
    tokens = _TOKENS.findall(" ".join(text.split()))
    for index, token in enumerate(tokens):
        candidate = line + token
        if face.getlength(candidate) <= width or not line or token in _NO_START:
            line = candidate
            continue
        lines.append(line.rstrip())
        line = token.lstrip()
        if len(lines) == max_lines:
            line = ""
            tokens = tokens[index:]
            break
    else:
        tokens = []
    if line:
        lines.append(line)
    if len(lines) > max_lines or tokens:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and face.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def yuan(fen: int) -> str:
    """``1250`` → ``"¥12.50"`` (``¥12`` for whole yuan)."""
    whole, cents = divmod(int(fen), 100)
    return f"¥{whole}" if cents == 0 else f"¥{whole}.{cents:02d}"


# -- drawing -------------------------------------------------------------------------------------


def qr_image(link: str, side: int = QR_SIDE) -> Image.Image:
    """The QR code of ``link``, ``side`` px square (whole modules, a quiet zone of 2)."""
    code = segno.make(link, error="m", micro=False)
    modules = code.symbol_size(scale=1, border=2)[0]
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(1, side // modules), border=2)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB")
    return image.resize((side, side), Image.NEAREST)


def _photo(path: Path | None) -> Image.Image | None:
    if path is None:
        return None
    try:
        with Image.open(path) as found:
            found.draft("RGB", (PHOTO, PHOTO))  # JPEG: decode at a smaller scale when it can
            return ImageOps.fit(ImageOps.exif_transpose(found).convert("RGB"), (PHOTO, PHOTO), Image.LANCZOS)
    except (OSError, ValueError, Image.DecompressionBombError):
        log.warning("sharing: product image %s could not be read; placeholder drawn", path)
        return None


def _placeholder(canvas: Image.Image, store_name: str) -> None:
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, WIDTH, PHOTO), fill=PLACEHOLDER)
    initial = (store_name or "·").strip()[:1] or "·"
    face = font(200)
    box = draw.textbbox((0, 0), initial, font=face)
    draw.text(
        ((WIDTH - (box[2] - box[0])) / 2 - box[0], (PHOTO - (box[3] - box[1])) / 2 - box[1]),
        initial,
        fill=(210, 210, 210),
        font=face,
    )


def _footer(canvas: Image.Image, top: int, store_name: str, link: str, caption: str) -> None:
    """The store's name, the caption and the QR code, from ``top`` to the poster's bottom."""
    draw = ImageDraw.Draw(canvas)
    draw.line((MARGIN, top, WIDTH - MARGIN, top), fill=(235, 235, 235), width=2)
    qr_top = top + (HEIGHT - top - QR_SIDE) // 2
    canvas.paste(qr_image(link), (WIDTH - MARGIN - QR_SIDE, qr_top))
    text_width = WIDTH - 3 * MARGIN - QR_SIDE
    y = qr_top + 30
    for line in wrap(store_name, font(32), text_width, 2):
        draw.text((MARGIN, y), line, fill=INK, font=font(32))
        y += 46
    draw.text((MARGIN, max(y + 20, qr_top + QR_SIDE - 60)), caption, fill=MUTED, font=font(26))


def _png(canvas: Image.Image) -> bytes:
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def product_poster(
    *,
    title: str,
    price: int | None,
    image_path: Path | None,
    store_name: str,
    link: str,
    caption: str,
    note: str | None = None,
) -> bytes:
    """A product's poster (and a plugin's shared thing's): photo (or placeholder), price, a
    ``note`` at the price's right (a group's "3人团 · 还差 2 人"), title (two lines at most), footer."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    photo = _photo(image_path)
    if photo is None:
        _placeholder(canvas, store_name)
    else:
        canvas.paste(photo, (0, 0))
    draw = ImageDraw.Draw(canvas)
    y = PHOTO + 28
    if price is not None:
        draw.text((MARGIN, y), yuan(price), fill=PRICE, font=font(52))
    if note:
        price_width = draw.textlength(yuan(price), font=font(52)) if price is not None else 0
        room = WIDTH - 2 * MARGIN - int(price_width) - 30
        [line] = wrap(note, font(30), max(room, 120), 1)
        length = draw.textlength(line, font=font(30))
        draw.text((WIDTH - MARGIN - length, y + 14), line, fill=PRICE, font=font(30))
    y += 76
    for line in wrap(title, font(34), WIDTH - 2 * MARGIN, 2):
        draw.text((MARGIN, y), line, fill=INK, font=font(34))
        y += 48
    _footer(canvas, PHOTO + 200, store_name, link, caption)
    return _png(canvas)


def page_poster(*, title: str, store_name: str, link: str, caption: str) -> bytes:
    """A landing page's poster (微页面): a band with the page's title, then the footer."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, WIDTH, PHOTO), fill=(250, 238, 236))
    lines = wrap(title, font(60), WIDTH - 2 * MARGIN, 4)
    y = (PHOTO - 84 * len(lines)) // 2
    for line in lines:
        length = draw.textlength(line, font=font(60))
        draw.text(((WIDTH - length) / 2, y), line, fill=INK, font=font(60))
        y += 84
    _footer(canvas, PHOTO + 200, store_name, link, caption)
    return _png(canvas)


# -- the disk cache ------------------------------------------------------------------------------


def _folder(store_id: int) -> Path:
    return Path(current_app.config["MALLOW_DATA_DIR"]) / "cache" / "posters" / str(int(store_id))


def cache_key(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def cached(store_id: int, key: str | None, draw: Callable[[], bytes]) -> tuple[bytes, bool]:
    """The poster kept under ``key`` (``None``: never kept), else drawn now and kept. Returns the
    PNG and whether it came from the disk."""
    if key is None:
        return draw(), False
    folder = _folder(store_id)
    path = folder / f"{key}.png"
    try:
        return path.read_bytes(), True
    except OSError:
        pass
    data = draw()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{key}.{os.getpid()}.tmp"
        partial.write_bytes(data)
        os.replace(partial, path)
        _bound(folder)
    except OSError:
        log.warning("sharing: poster cache %s not writable", folder, exc_info=True)
    return data, False


def _bound(folder: Path, limit: int | None = None) -> None:
    """At most ``limit`` (:data:`MAX_FILES`) posters in ``folder``: the oldest go."""
    limit = limit if limit is not None else int(current_app.config.get("MALLOW_POSTER_CACHE_FILES", MAX_FILES))
    entries = [e for e in os.scandir(folder) if e.name.endswith(".png")]
    if len(entries) <= limit:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for entry in entries[: len(entries) - limit]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass
