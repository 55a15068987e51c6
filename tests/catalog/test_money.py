"""Yuan text → integer fen: exact, and strict about what it accepts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mallow.money import MAX_FEN, MoneyError, fen_to_yuan, yuan_to_fen


@pytest.mark.parametrize(
    "text, fen",
    [
        ("12.50", 1250),
        ("12.5", 1250),
        ("12", 1200),
        ("0", 0),
        ("0.01", 1),
        ("0.1", 10),
        (" 7.05 ", 705),
        ("１２．５０", 1250),  # full-width digits and point (NFKC)
        ("¥9.90", 990),
        ("9.90元", 990),
        ("1,299.00", 129900),
        ("+3", 300),
        ("99999999.99", MAX_FEN),
        ("0.29", 29),
        ("1.10", 110),
    ],
)
def test_yuan_text_becomes_exact_fen(text, fen):
    assert yuan_to_fen(text) == fen


def test_no_binary_float_rounding():
    # float("0.29") * 100 == 28.999999999999996: the helper never goes through float
    assert yuan_to_fen("0.29") == 29 and yuan_to_fen("4.35") == 435 and yuan_to_fen("1.005".rstrip("5")) == 100


@pytest.mark.parametrize(
    "text, code",
    [
        ("12.505", "too_precise"),
        ("0.001", "too_precise"),
        ("", "required"),
        ("   ", "required"),
        ("-1", "negative"),
        ("-0.01", "negative"),
        ("abc", "invalid"),
        ("1e3", "invalid"),
        ("NaN", "invalid"),
        ("Infinity", "invalid"),
        ("12.", "invalid"),
        (".5", "invalid"),
        ("1.2.3", "invalid"),
        ("0x10", "invalid"),
        ("123456789", "too_large"),
        ("100000000.00", "too_large"),
    ],
)
def test_bad_text_is_refused_with_a_code(text, code):
    with pytest.raises(MoneyError) as problem:
        yuan_to_fen(text)
    assert problem.value.code == code


@pytest.mark.parametrize("value", [12.5, 12.0, 1250, True, None, float("nan")])
def test_floats_ints_and_none_are_refused(value):
    with pytest.raises(MoneyError):
        yuan_to_fen(value)


def test_decimal_is_accepted_only_with_two_places():
    assert yuan_to_fen(Decimal("3.20")) == 320
    with pytest.raises(MoneyError):
        yuan_to_fen(Decimal("3.205"))
    with pytest.raises(MoneyError):
        yuan_to_fen(Decimal("NaN"))


def test_fen_to_yuan():
    assert fen_to_yuan(1250) == "12.50" and fen_to_yuan(5) == "0.05" and fen_to_yuan(0) == "0.00"
    assert fen_to_yuan(None) == "" and fen_to_yuan(-150) == "-1.50"
    for fen in (0, 1, 99, 100, 12345, MAX_FEN):
        assert yuan_to_fen(fen_to_yuan(fen)) == fen
