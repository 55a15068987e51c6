"""The memory one uploaded image may cost: a decompression bomb is refused by the dimensions in
its header without a pixel decoded, a large JPEG is decoded at a reduced scale, the stored copy
and its thumbnails come from one reduced image, and at most ``MALLOW_UPLOAD_CONCURRENCY`` images
are decoded at a time per process: an upload that gets no turn in time is told 503 "busy, try
again". (The figures themselves are bench/uploads.py's: no timing here.)"""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from werkzeug.datastructures import FileStorage

from mallow.media import image_checks, images, upload_limits
from mallow.testing import MerchantClient, csrf_token, png_bytes

MB = 1024 * 1024


def png_bomb(width: int, height: int) -> bytes:
    """A valid, all-black RGB PNG of ``width`` × ``height``: a few hundred KB that decode to
    ``4 × width × height`` bytes (the issue's 155 KB PNG of 40 Mpx), built row by row."""
    row = b"\x00" * (width * 3 + 1)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def loads(monkeypatch):
    """Every decode (``ImageFile.load``) as ``(format, size decoded)``."""
    seen: list[tuple[str, tuple[int, int]]] = []
    original = ImageFile.ImageFile.load

    def load(self):
        if self.tile:  # a decode still to do (not a second call on a loaded image)
            seen.append((self.format, self.size))
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _reset_high_water() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _upload(console: MerchantClient, data: bytes, name: str):
    return console.client.post(
        f"{console.api}/media",
        headers=console.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(data), name)},
    )


def _media_files(app, console) -> list[Path]:
    folder = Path(app.config["MALLOW_DATA_DIR"]) / "uploads" / "stores" / str(console.shop.store_id) / "media"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_a_decompression_bomb_is_refused_by_its_header_without_decoding(app, loads):
    """The issue's file: a ~120 KB PNG of 39.99 Mpx (160 MB decoded, ~475 MB processed)."""
    console = MerchantClient.new_store(app)
    loads.clear()  # the store's licence
    bomb = png_bomb(7303, 5476)
    assert len(bomb) < 200 * 1024
    assert 7303 * 5476 > app.config["MALLOW_UPLOAD_MAX_PIXELS"]
    measured = _reset_high_water()
    before = _status_kb("VmRSS") * 1024
    response = _upload(console, bomb, "bomb.png")
    grew = _status_kb("VmHWM") * 1024 - before
    assert response.status_code == 422, response.get_json()
    field = response.get_json()["fields"]["image"]
    assert field["code"] == "too_many_pixels" and "20" in field["message"]
    assert loads == []  # not one pixel decoded
    if measured:
        assert grew < 48 * MB, f"refusing the bomb raised RSS by {grew / MB:.0f} MB"
    assert _media_files(app, console) == []


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_pixel_limit_counts_what_decoding_costs(app, loads):
    limit = app.config["MALLOW_UPLOAD_MAX_PIXELS"]
    with app.app_context():
        # PNG and JPEG: up to the limit; WebP, whose decoder needs four times the memory: a quarter
        for kind, size in (("PNG", (limit // 1000 + 1, 1000)), ("WEBP", (limit // 4 // 1000 + 1, 1000))):
            with pytest.raises(image_checks.ImageRejected) as rejected:
                image_checks._probe(_header_only(kind, size), None)
            assert rejected.value.code == "too_many_pixels", kind
        kind, size = image_checks._probe(_header_only("WEBP", (limit // 4 // 1000, 1000)), None)
        assert (kind, size) == ("WEBP", (limit // 4 // 1000, 1000))
    assert loads == []


def _header_only(kind: str, size: tuple[int, int]) -> bytes:
    """A file whose header declares ``size`` (the pixels after it do not matter to the probe)."""
    if kind == "PNG":
        return png_bomb(*size)
    buffer = io.BytesIO()
    with Image.new("L", size) as image:
        image.save(buffer, kind, lossless=False, quality=1)
    return buffer.getvalue()


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_stored_at_most_max_side(app, loads):
    console = MerchantClient.new_store(app)
    loads.clear()
    buffer = io.BytesIO()
    with Image.new("RGB", (6000, 3000), "#3a7") as photo:
        photo.save(buffer, "JPEG", quality=80)
    response = _upload(console, buffer.getvalue(), "camera.jpg")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    max_side = app.config["MALLOW_UPLOAD_MAX_SIDE"]
    assert (body["width"], body["height"]) == (max_side, max_side // 2)
    # one decode, at half the size each way (a quarter of the memory), thumbnails from that copy
    assert loads == [("JPEG", (3000, 1500))]
    files = _media_files(app, console)
    stored = {("main" if "_" not in p.stem else p.stem.rsplit("_", 1)[1]): p for p in files}
    assert len(files) == 3
    with Image.open(stored["main"]) as main, Image.open(stored["750"]) as mid, Image.open(stored["320"]) as small:
        assert (main.size, mid.size, small.size) == ((max_side, max_side // 2), (750, 375), (320, 160))


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_a_png_too_large_to_keep_is_reduced_right_after_decoding(app, loads):
    console = MerchantClient.new_store(app)
    loads.clear()
    response = _upload(console, png_bytes((3000, 1000), "#39c"), "wide.png")
    assert response.status_code == 201, response.get_json()
    max_side = app.config["MALLOW_UPLOAD_MAX_SIDE"]
    assert (response.get_json()["width"], response.get_json()["height"]) == (max_side, round(max_side / 3))
    assert loads == [("PNG", (3000, 1000))]  # PNG has no reduced decoding: once, then reduced


# --- the concurrency bound ------------------------------------------------------------------


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_an_upload_that_gets_no_image_slot_in_time_is_told_to_try_again(app, monkeypatch):
    console = MerchantClient.new_store(app, signed_in=True)
    monkeypatch.setitem(app.config, "MALLOW_UPLOAD_CONCURRENCY", 1)
    monkeypatch.setitem(app.config, "MALLOW_UPLOAD_WAIT_SECONDS", 0.2)
    library_page = f"{console.shop.prefix}/console/library"
    token = csrf_token(console.client, library_page)
    with app.app_context(), upload_limits.image_slot():  # another upload holds the only slot
        started = time.monotonic()
        busy = _upload(console, png_bytes((300, 200)), "a.png")
        waited = time.monotonic() - started
        page = console.client.post(
            library_page,
            content_type="multipart/form-data",
            data={"csrf_token": token, "images": [(io.BytesIO(png_bytes((300, 200))), "b.png")]},
        )
    assert busy.status_code == 503, busy.get_data(as_text=True)[:300]
    body = busy.get_json()
    assert body["error"] == "busy" and body["message"] and body["retry_after"] == int(busy.headers["Retry-After"]) > 0
    assert waited >= 0.2  # it waited its short while, then answered instead of queueing on
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert body["message"] in page.get_data(as_text=True)
    assert _media_files(app, console) == []
    # the slot is free again: the same upload goes through
    assert _upload(console, png_bytes((300, 200)), "a.png").status_code == 201


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_concurrent_uploads_never_decode_more_images_than_the_slots(app, monkeypatch):
    """Five uploads at once, two slots: all stored, never more than two decoded at the same time.
    (Straight through store_image: on SQLite, concurrent requests that write are another matter.)"""
    monkeypatch.setitem(app.config, "MALLOW_UPLOAD_CONCURRENCY", 2)
    monkeypatch.setitem(app.config, "MALLOW_UPLOAD_WAIT_SECONDS", 30)
    active, most, lock = [0], [0], threading.Lock()
    decode = image_checks._decode_reduced

    def counted(*args, **kwargs):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.05)
            return decode(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(image_checks, "_decode_reduced", counted)
    stored: list = []
    barrier = threading.Barrier(5)

    def upload():
        barrier.wait(timeout=30)
        with app.app_context():
            stored.append(
                images.store_image(
                    FileStorage(io.BytesIO(png_bytes((900, 600))), filename="p.png"),
                    "stores/0/concurrency",
                    thumbnails=(320,),
                )
            )

    threads = [threading.Thread(target=upload) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(stored) == 5 and all(s.width == 900 for s in stored)
    assert most[0] == 2
