"""Group-buy arithmetic: tiers by headcount, one half-up rounding per unit, integer fen only."""

from __future__ import annotations

import pytest

from mallow_groupbuy import money

LADDER = [{"size": 2, "bp": 9500}, {"size": 3, "bp": 9000}, {"size": 5, "bp": 8000}]


@pytest.mark.parametrize("headcount, rate", [(1, 9500), (2, 9500), (3, 9000), (4, 9000), (5, 8000), (9, 8000)])
def test_the_tier_is_the_highest_rung_reached_and_the_first_below_it(headcount, rate):
    assert money.tier_for(LADDER, headcount) == rate
    assert money.tier_for(list(reversed(LADDER)), headcount) == rate  # order of entry does not matter


def test_unit_prices_round_half_up_once_per_unit():
    assert money.unit_price(10000, 9000) == 9000
    assert money.unit_price(1999, 9500) == 1899  # 1899.05
    assert money.unit_price(1990, 9500) == 1891  # 1890.5 → up
    assert money.unit_price(10000, 9500, 500) == 9025  # 95 % then another 5 % off, rounded once
    assert money.unit_price(333, 9999, 1) == 333  # 332.9334 → 333
    assert money.unit_price(1, 1) == 0


def test_money_is_integer_only():
    with pytest.raises(TypeError):
        money.unit_price(99.5, 9000)
    with pytest.raises(TypeError):
        money.unit_price(100, 90.0)


def test_settlement_never_charges_more():
    assert money.difference(9500, 9000, 3) == 1500
    assert money.difference(9000, 9500, 3) == 0


@pytest.mark.parametrize("text, bp", [("95", 9500), ("92.5", 9250), ("88.75", 8875), ("90%", 9000), (" 5 ", 500)])
def test_percentages_are_read_exactly(text, bp):
    assert money.parse_percent(text) == bp
    assert money.parse_percent(money.percent_text(bp)) == bp


@pytest.mark.parametrize("text", ["", "abc", "9.123", "-5", "1e2", None, "9.5.1"])
def test_what_is_not_a_percentage_is_refused(text):
    assert money.parse_percent(text) is None


def test_yuan_display_is_the_sdk_money_module():
    from mallow.sdk import fen_to_yuan

    assert fen_to_yuan(129900) == "1299.00" and fen_to_yuan(5) == "0.05" and fen_to_yuan(-250) == "-2.50"
