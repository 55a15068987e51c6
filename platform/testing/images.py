"""Pictures for upload tests: a real PNG in memory and the file a form would send."""

from __future__ import annotations

import io

from PIL import Image
from werkzeug.datastructures import FileStorage


def png_bytes(size=(64, 48), color="#c33") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def image_upload(data: bytes | None = None, filename: str = "licence.png") -> FileStorage:
    return FileStorage(
        io.BytesIO(data if data is not None else png_bytes()), filename=filename, content_type="image/png"
    )
