"""Helpers of the WeChat Pay Native tests (cashier views and the browser journey): the browsers'
user agents, and reading the cashier's QR code back into modules to compare with the code_url's."""

from __future__ import annotations

import re

import segno

DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
QUIET_ZONE = 4
_COMMAND = re.compile(r"([MmHhVv])(-?\d+(?:\.\d+)?)(?:[ ,](-?\d+(?:\.\d+)?))?")


def svg_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules ``(row, column)`` an SVG QR code draws (segno's stroked path: ``M``/``m``
    moves, ``h`` runs of dark modules), without the quiet zone."""
    paths = re.findall(r'<path stroke="#000" d="([^"]+)"', svg)
    assert len(paths) == 1, "one path of dark modules"
    x = y = 0.0
    dark = set()
    for command, first, second in _COMMAND.findall(paths[0]):
        a, b = float(first), float(second or 0)
        if command == "M":
            x, y = a, b
        elif command == "m":
            x, y = x + a, y + b
        elif command == "h":
            dark.update((int(y) - QUIET_ZONE, int(x + i) - QUIET_ZONE) for i in range(int(a)))
            x += a
        else:
            raise AssertionError(f"unexpected path command {command}")
    return dark


def qr_modules(code_url: str) -> set[tuple[int, int]]:
    """The dark modules of ``code_url``'s QR code (error correction M, as the cashier draws it)."""
    matrix = segno.make(code_url, error="m", micro=False).matrix
    return {(r, c) for r, row in enumerate(matrix) for c, value in enumerate(row) if value}
