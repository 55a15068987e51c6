"""Product photos: re-encoded upright (camera EXIF rotation applied, metadata dropped), with
thumbnails; a folder can never point outside the uploads."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from mallow.media.images import store_image


def _jpeg_rotated() -> bytes:
    image = Image.new("RGB", (400, 200), "#c33")
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # make: must not survive re-encoding
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_phone_photo_is_stored_upright_without_metadata(app):
    with app.app_context():
        stored = store_image(
            FileStorage(io.BytesIO(_jpeg_rotated()), filename="x.jpg"), "stores/0/products", thumbnails=(320, 100)
        )
        base = Path(app.config["MALLOW_DATA_DIR"])
        assert (stored.width, stored.height) == (200, 400)
        with Image.open(base / stored.path) as image:
            assert image.size == (200, 400) and not image.getexif()
        with Image.open(base / stored.thumbnails[100]) as thumb:
            assert thumb.size == (100, 200)
        with Image.open(base / stored.thumbnails[320]) as thumb:
            assert thumb.size == (200, 400)  # never enlarged
        assert stored.thumbnails[320].endswith("_320.jpg")


@pytest.mark.parametrize("folder", ["../outside", "/etc", "stores/../../x"])
def test_folder_cannot_escape_the_uploads(app, folder):
    with app.app_context(), pytest.raises(ValueError):
        store_image(FileStorage(io.BytesIO(_jpeg_rotated()), filename="x.jpg"), folder)
