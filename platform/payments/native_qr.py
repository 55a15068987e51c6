"""The QR code of a WeChat Pay Native ``code_url`` (扫码支付), drawn on the server as inline SVG.

No JavaScript library and no image request: the cashier page carries the code itself (the CSP
allows only this site's scripts). ``segno`` (pure Python) encodes it; the SVG has a ``viewBox``
and no fixed size, so the page's stylesheet sizes it, with the quiet zone (4 modules) scanners need.
"""

from __future__ import annotations

import io

import segno
from markupsafe import Markup

from mallow.payments.wechatpay.client import NATIVE_CODE_URL_RE


def qr_svg(code_url: str, *, title: str | None = None) -> Markup:
    """An ``<svg>`` of the QR code of ``code_url`` (error correction M). ``title`` names it for
    screen readers. Refuses anything but a WeChat Pay code (``ValueError``): a QR code drawn by
    the store never leads elsewhere."""
    if not isinstance(code_url, str) or not NATIVE_CODE_URL_RE.fullmatch(code_url):
        raise ValueError("not a WeChat Pay Native code_url")
    buffer = io.BytesIO()
    segno.make(code_url, error="m", micro=False).save(
        buffer,
        kind="svg",
        xmldecl=False,
        svgns=True,
        omitsize=True,
        border=4,
        dark="#000",
        light="#fff",
        svgclass="cs-qr-svg",
        lineclass=None,
        title=title,
        encoding="utf-8",
    )
    return Markup(buffer.getvalue().decode("utf-8").strip())  # segno escapes the title; the rest is path data
