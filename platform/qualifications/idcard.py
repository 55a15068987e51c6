"""Mainland resident ID numbers (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check."""

from __future__ import annotations

from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def normalise(raw: str | None) -> str:
    return (raw or "").strip().replace(" ", "").upper()


def is_valid(number: str) -> bool:
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return CHECK[sum(int(d) * w for d, w in zip(number, WEIGHTS, strict=False)) % 11] == number[17]
