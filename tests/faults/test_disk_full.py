"""A full disk during an upload (issue 15, faults survived): a clear answer, nothing half-written.

The app's upload folder (``<data dir>/uploads``) is a real filesystem of 512 KiB — a ``tmpfs``
mounted there for the module (root: mounting is allowed in this sandbox). Where mounting is
refused (not root), the same tests run with the process's file size limit (``RLIMIT_FSIZE``,
``SIGXFSZ`` ignored, so a write past it fails with ``EFBIG``) held during the uploads that must
fail: the kernel refuses the write either way, the code under test sees a real ``OSError``.

A re-encoded image bigger than the room is refused with 507 Insufficient Storage and the message
on its field (the media API: ``fields.image``; the console's library form: under the file input);
no file is left in the store's folder (neither a part of the image nor a temporary file, nor the
files of a batch's earlier images), no media row is written, the room is what it was, and the
next small upload is stored.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
import random
import resource
import signal
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from mallow.testing import MerchantClient, backend_params, build_app, dispose_app, png_bytes, post_form

ROOM = 512 * 1024


class SmallDisk:
    """``folder`` made a filesystem of ``size`` bytes: a tmpfs mount, or else a file size limit
    held by :meth:`limited` (see the module)."""

    def __init__(self, folder: Path, size: int):
        self.folder, self.size = folder, size
        folder.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        self.how = "tmpfs" if mounted.returncode == 0 else "rlimit"
        self.why = mounted.stderr.strip()

    @contextlib.contextmanager
    def limited(self):
        """Hold the limit (with a tmpfs it always holds: the mount is the limit)."""
        if self.how == "tmpfs":
            yield
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.size, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, handler)

    def free(self) -> int | None:
        """The room left on the small filesystem (None with a file size limit: the folder is on
        the shared disk then, whose free space other processes move)."""
        if self.how != "tmpfs":
            return None
        stats = os.statvfs(self.folder)
        return stats.f_bavail * stats.f_frsize

    def close(self) -> None:
        if self.how == "tmpfs":
            subprocess.run(["umount", "-l", str(self.folder)], check=False)


@pytest.fixture(scope="module", params=backend_params())
def disk_app(request, tmp_path_factory):
    app = build_app(tmp_path_factory, request.param)
    disk = SmallDisk(Path(app.config["MALLOW_DATA_DIR"]) / "uploads", ROOM)
    app.mallow_disk = disk
    try:
        yield app
    finally:
        disk.close()
        dispose_app(app)


@pytest.fixture
def console(disk_app) -> MerchantClient:
    return MerchantClient.new_store(disk_app, signed_in=True)


def _noise_jpeg(side: int = 1600) -> bytes:
    """A JPEG of noise at a low quality: about 380 KB sent (under the 500 KB werkzeug keeps in
    memory, and under the room), re-encoded at quality 88 to about 610 KB — more than the room."""
    pixels = random.Random(side).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, "JPEG", quality=15)
    return buffer.getvalue()


BIG = _noise_jpeg()


def _media_files(app, console) -> list[str]:
    folder = Path(app.config["MALLOW_DATA_DIR"]) / "uploads" / "stores" / str(console.shop.store_id) / "media"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _rows(app, console) -> int:
    from mallow.db import db
    from mallow.media.models import MediaAsset
    from mallow.tenants.context import store_context

    with store_context(console.shop.store_id, app=app):
        return db.session.execute(db.select(db.func.count()).select_from(MediaAsset)).scalar()


def test_the_media_api_answers_507_on_the_image_field_and_keeps_nothing(disk_app, console):
    disk = disk_app.mallow_disk
    assert len(BIG) < ROOM - 64 * 1024  # the request fits: only the stored copy does not
    free = disk.free()

    with disk.limited():
        full = console.client.post(
            f"{console.api}/media",
            headers=console.headers,
            content_type="multipart/form-data",
            data={"image": (io.BytesIO(BIG), "长图.jpg")},
        )

    assert full.status_code == 507, (disk.how, full.status_code, full.get_data(as_text=True)[:300])
    body = full.get_json()
    assert body["error"] == "storage_full" and body["message"]
    assert body["fields"] == {"image": {"code": "storage_full", "message": body["message"]}}
    assert _media_files(disk_app, console) == []  # no part of the image, no temporary file
    assert _rows(disk_app, console) == 0
    assert disk.free() == free  # the room is what it was

    small = console.client.post(
        f"{console.api}/media",
        headers=console.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(png_bytes((64, 48))), "小图.png")},
    )

    assert small.status_code == 201, small.get_data(as_text=True)[:300]
    assert _rows(disk_app, console) == 1
    files = _media_files(disk_app, console)
    assert len(files) == 3 and not [name for name in files if name.startswith(".")]  # the image and its two copies
    shown = console.client.get(small.get_json()["url"])
    assert shown.status_code == 200 and shown.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_library_form_shows_the_message_under_the_files_and_keeps_no_image_of_the_batch(disk_app, console):
    disk = disk_app.mallow_disk
    prefix = console.shop.prefix
    free = disk.free()

    with disk.limited():
        page = post_form(
            console.client,
            f"{prefix}/console/library",
            {"images": [(io.BytesIO(png_bytes((200, 150))), "先传的.png"), (io.BytesIO(BIG), "太大的.jpg")]},
            content_type="multipart/form-data",
        )

    assert page.status_code == 507, (disk.how, page.get_data(as_text=True)[:300])
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    from mallow.media.upload_limits import StorageFull

    with disk_app.test_request_context(f"{prefix}/console/library"):
        expected = html.escape(StorageFull().description)
    assert expected in text  # the field's message on the page
    assert _media_files(disk_app, console) == []  # the batch's first image was taken away too
    assert _rows(disk_app, console) == 0
    assert disk.free() == free

    again = post_form(
        console.client,
        f"{prefix}/console/library",
        {"images": [(io.BytesIO(png_bytes((200, 150))), "先传的.png")]},
        content_type="multipart/form-data",
    )

    assert again.status_code == 303
    assert _rows(disk_app, console) == 1 and len(_media_files(disk_app, console)) == 3
