"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015).

18 characters from a 31-character set (no I, O, Z, S, V). The first character is the
registering authority and can be a letter (A, N, Y); the last is a check character computed
over the first 17 with weights 3^(i-1) mod 31. A valid check character proves the format only:
a person still reviews the licence.
"""

from __future__ import annotations

import unicodedata

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {c: i for i, c in enumerate(CHARSET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, 17, …
AUTHORITIES = frozenset("123456789ANY")
ENTITY_TYPES = {"1": "enterprise", "2": "individual_business", "3": "farmers_cooperative"}


def normalise(raw: str | None) -> str:
    """Trim, full-width → half-width, upper-case, drop spaces and hyphens."""
    text = unicodedata.normalize("NFKC", raw or "")
    return "".join(c for c in text.upper() if c not in " \t\r\n-\u3000")


def check_character(first17: str) -> str:
    total = sum(VALUES[c] * w for c, w in zip(first17, WEIGHTS, strict=False))
    return CHARSET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why a *normalised* code is invalid (``length``, ``charset``, ``authority``,
    ``check``), or None when it is valid."""
    if len(code) != 18:
        return "length"
    if any(c not in VALUES for c in code):
        return "charset"
    if code[0] not in AUTHORITIES:
        return "authority"
    if check_character(code[:17]) != code[17]:
        return "check"
    return None


def is_valid(raw: str | None) -> bool:
    return problem(normalise(raw)) is None


def entity_type(code: str) -> str | None:
    """For codes issued by market regulators (first character 9): the kind of entity."""
    return ENTITY_TYPES.get(code[1]) if len(code) == 18 and code[0] == "9" else None
