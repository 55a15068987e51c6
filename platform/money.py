"""Money is integer fen everywhere. Yuan text from forms ("12.50") becomes fen here and only here,
and fen becomes text for people here too: ``fen_to_yuan`` (``12.50``, form fields and plain
amounts) and ``fen_to_price`` (``¥12.50`` / ``-¥5.00``, with the sign); templates reach them as the
``yuan`` and ``fen_to_yuan`` filters (:mod:`mallow.web.filters`).

``yuan_to_fen`` is exact: it reads the text as a decimal, never through ``float`` (0.1 + 0.2 is
not 0.3 in binary), and it refuses anything that is not a plain amount with at most two
decimals, so "12.505" is an error rather than a silently rounded price.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

#: the largest amount a price field takes: 99,999,999.99 yuan
MAX_FEN = 9_999_999_999
_AMOUNT = re.compile(r"^(\d{1,8})(?:\.(\d{1,2}))?$")


class MoneyError(ValueError):
    """``code`` is one of: required, invalid, too_precise, too_large, negative."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def yuan_to_fen(value) -> int:
    """``"12.50"`` → ``1250``. Accepts text (full-width digits and a leading ¥ are fine) or a
    ``Decimal``; refuses floats, ints (ambiguous: yuan or fen?), exponents, more than two
    decimals, negative and absurdly large amounts."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError("invalid")
        value = format(value, "f")
    if not isinstance(value, str):
        raise MoneyError("invalid")  # float, int, bool, None: never guessed
    text = unicodedata.normalize("NFKC", value).strip().replace(",", "")
    for sign in ("¥", "￥", "元"):
        text = text.strip(sign).strip()
    if not text:
        raise MoneyError("required")
    if text.startswith("-"):
        raise MoneyError("negative")
    text = text.removeprefix("+")
    match = _AMOUNT.match(text)
    if match is None:
        if re.match(r"^\d+\.\d{3,}$", text):
            raise MoneyError("too_precise")
        if re.match(r"^\d{9,}(\.\d*)?$", text):
            raise MoneyError("too_large")
        raise MoneyError("invalid")
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    fen = int(whole) * 100 + int(cents)
    if fen > MAX_FEN:
        raise MoneyError("too_large")
    return fen


def fen_to_yuan(fen: int | None) -> str:
    """``1250`` → ``"12.50"`` (for form fields and display)."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def fen_to_price(fen: int | None) -> str:
    """``1250`` → ``"¥12.50"``, ``-500`` → ``"-¥5.00"`` (a discount), ``None`` → ``""``."""
    if fen is None:
        return ""
    fen = int(fen)
    return ("-¥" if fen < 0 else "¥") + fen_to_yuan(abs(fen))
