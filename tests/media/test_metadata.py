"""Re-encoding keeps pixels only: images uploaded with every kind of metadata (EXIF, XMP, JPEG
comment and APP13 segment, an ICC profile carrying text, PNG text chunks, bytes after the image)
are stored, main copy and thumbnails alike, with none of it. Checked on the stored bytes: the
file's segments or chunks one by one, and a search for every planted string."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from mallow.testing import MerchantClient

SECRETS = [
    b"SECRET-COMMENT",
    b"SECRET-EXIF",
    b"SECRET-XMP",
    b"SECRET-ICC-XY",
    b"SECRET-TEXT",
    b"SECRET-ZTXT",
    b"SECRET-ITXT",
    b"SECRET-IPTC",
    b"SECRET-TRAILER",
    b"SecretCam",
]
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>SECRET-XMP'
    b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def icc_with_text() -> bytes:
    """sRGB, its description replaced by text of our own (same length: the profile stays valid)."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    builtin = "sRGB built-in".encode("utf-16-be")
    assert builtin in profile
    return profile.replace(builtin, "SECRET-ICC-XY".encode("utf-16-be"))


def exif() -> Image.Exif:
    data = Image.Exif()
    data[0x010F] = "SecretCam"  # Make
    data[0x010E] = "SECRET-EXIF"  # ImageDescription
    data[0x0112] = 1  # Orientation: upright already
    return data


def picture(size=(1200, 800)) -> Image.Image:
    image = Image.new("RGB", size, "#e8d9c0")
    image.paste((190, 40, 40), (100, 100, 600, 500))
    return image


def jpeg_with_everything() -> bytes:
    buffer = io.BytesIO()
    with picture() as image:
        image.save(
            buffer, "JPEG", quality=90, exif=exif(), comment=b"SECRET-COMMENT", icc_profile=icc_with_text(), xmp=XMP
        )
    data = buffer.getvalue()
    iptc = b"Photoshop 3.0\x00" + b"8BIM\x04\x04\x00\x00\x00\x00\x00\x0bSECRET-IPTC"
    app13 = b"\xff\xed" + struct.pack(">H", len(iptc) + 2) + iptc
    data = data[:2] + app13 + data[2:]  # right after SOI
    return data + b"SECRET-TRAILER"


def png_with_everything() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "SECRET-TEXT")
    info.add_text("Software", "SECRET-ZTXT", zip=True)
    info.add_itxt("Description", "SECRET-ITXT", lang="en", tkey="Description", zip=False)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    buffer = io.BytesIO()
    with picture() as image:
        image.save(buffer, "PNG", pnginfo=info, icc_profile=icc_with_text(), exif=exif())
    return buffer.getvalue() + b"SECRET-TRAILER"


def webp_with_everything() -> bytes:
    buffer = io.BytesIO()
    with picture() as image:
        image.save(buffer, "WEBP", quality=90, exif=exif().tobytes(), icc_profile=icc_with_text(), xmp=XMP)
    return buffer.getvalue()


def jpeg_markers(data: bytes) -> list[tuple[int, bytes]]:
    """``(marker, first bytes of the segment)`` up to the scan; asserts the file ends at EOI."""
    assert data[:2] == b"\xff\xd8"
    found, at = [], 2
    while True:
        assert data[at] == 0xFF, at
        marker = data[at + 1]
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        found.append((marker, data[at + 4 : at + 4 + 14]))
        at += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data until EOI
            break
    assert data.endswith(b"\xff\xd9")
    return found


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds, at = [], 8
    while at < len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        kind = data[at + 4 : at + 8]
        assert (
            zlib.crc32(kind + data[at + 8 : at + 8 + length])
            == struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0]
        )
        kinds.append(kind)
        at += 12 + length
        if kind == b"IEND":
            break
    assert at == len(data), "bytes after IEND"
    return kinds


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert struct.unpack("<I", data[4:8])[0] + 8 == len(data), "bytes after the RIFF container"
    chunks, at = [], 12
    while at < len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        chunks.append((kind, data[at + 8 : at + 8 + size]))
        at += 8 + size + (size & 1)
    return chunks


def only_pixels(kind: str, data: bytes) -> None:
    assert [secret for secret in SECRETS if _found(secret, data)] == []
    if kind == "jpg":
        markers = jpeg_markers(data)
        assert {m for m, _ in markers} <= {0xE0, 0xDB, 0xC0, 0xC1, 0xC2, 0xC4, 0xDD, 0xDA}, [hex(m) for m, _ in markers]
        assert all(head.startswith(b"JFIF\x00") for m, head in markers if m == 0xE0)
    elif kind == "png":
        assert set(png_chunks(data)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    else:
        chunks = webp_chunks(data)
        assert {k for k, _ in chunks} <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
        for kind_, payload in chunks:
            if kind_ == b"VP8X":
                assert payload[0] & 0b00101100 == 0  # no ICC, EXIF or XMP flag


def _found(secret: bytes, data: bytes) -> bool:
    return secret in data or secret.decode().encode("utf-16-be") in data


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "name,make,planted",
    [
        (
            "photo.jpg",
            jpeg_with_everything,
            [
                b"SECRET-COMMENT",
                b"SECRET-EXIF",
                b"SECRET-XMP",
                b"SECRET-ICC-XY",
                b"SECRET-IPTC",
                b"SECRET-TRAILER",
                b"SecretCam",
            ],
        ),
        (
            "shot.png",
            png_with_everything,
            [b"SECRET-TEXT", b"SECRET-ITXT", b"SECRET-XMP", b"SECRET-EXIF", b"SECRET-TRAILER"],
        ),  # the zTXt and the ICC profile are compressed
        ("pic.webp", webp_with_everything, [b"SECRET-EXIF", b"SECRET-XMP", b"SECRET-ICC-XY", b"SecretCam"]),
    ],
)
def test_stored_images_and_thumbnails_carry_no_metadata(app, name, make, planted):
    console = MerchantClient.new_store(app)
    data = make()
    assert [secret for secret in planted if not _found(secret, data)] == []
    response = console.client.post(
        f"{console.api}/media",
        headers=console.headers,
        content_type="multipart/form-data",
        data={"image": (io.BytesIO(data), name)},
    )
    assert response.status_code == 201, response.get_json()
    folder = Path(app.config["MALLOW_DATA_DIR"]) / "uploads" / "stores" / str(console.shop.store_id) / "media"
    files = sorted(folder.iterdir())
    assert len(files) == 3  # the image, its 750 and 320 px copies
    for stored in files:
        only_pixels(stored.suffix[1:], stored.read_bytes())
        with Image.open(stored) as image:
            assert not image.info.get("icc_profile") and not image.getexif()
            image.load()
            assert image.getpixel((image.width // 4, image.height // 4))[0] > 150  # the picture is still there
