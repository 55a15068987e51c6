"""The pricing pipeline: plugins propose adjustments, the core decides, the receipt adds up."""

from __future__ import annotations

import itertools

import pytest

from mallow.plugins.hookspecs import hookimpl
from mallow.pricing import Adjustment, PricingContext, PricingLine, Problem
from mallow.pricing import pipeline
from mallow.testing import make_store


def _line(index, price, quantity=1):
    return PricingLine(
        index,
        sku_id=index + 1,
        product_id=index + 1,
        title=f"p{index}",
        spec_key="",
        unit_price=price,
        quantity=quantity,
        weight_g=0,
        shipping_template_id=None,
    )


class FlashSale:
    @hookimpl
    def mallow_line_adjustments(self, context, line):
        return [Adjustment("line", "flashsale", "flash", "秒杀价", -300 * line.quantity, line.index)]


class MemberPrice:
    @hookimpl
    def mallow_line_adjustments(self, context, line):
        return [Adjustment("line", "members", "vip", "会员价", -100 * line.quantity, line.index)]


class FullReduction:
    @hookimpl
    def mallow_order_adjustments(self, context, subtotal):
        found = []
        if subtotal >= 1000:
            found.append(Adjustment("order", "promo", "full_1000", "满10减2", -200, exclusive_group="full"))
        if subtotal >= 500:
            found.append(Adjustment("order", "promo", "full_500", "满5减1", -100, exclusive_group="full"))
        return found


class BigCoupon:
    @hookimpl
    def mallow_order_adjustments(self, context, subtotal):
        return [Adjustment("coupon", "coupons", "c1", "大额券", -100_000)]


class Refuser:
    @hookimpl
    def mallow_validate_checkout(self, context):
        return [Problem("limit", "每人限购 1 件", 0)] if context.lines[0].quantity > 1 else None


@pytest.fixture
def price(app):
    shop = make_store(app)
    manager = app.extensions["mallow.plugins"]

    def run(plugins, lines):
        for plugin in plugins:
            manager.register(plugin)
        try:
            from mallow.tenants.context import store_context

            with store_context(shop.store_id, app=app):
                return pipeline.price(PricingContext(store_id=shop.store_id, customer_id=None, lines=lines))
        finally:
            for plugin in plugins:
                manager.unregister(plugin)

    return run


def test_only_the_best_line_price_applies(price):
    result = price([FlashSale(), MemberPrice()], [_line(0, 1000, 2)])
    [line] = result.lines
    assert [(a.source, a.amount) for a in line.adjustments] == [("flashsale", -600)]
    assert result.total == 2000 - 600


def test_exclusive_order_discounts_compete_and_the_receipt_adds_up(price):
    result = price([FullReduction()], [_line(0, 700), _line(1, 400)])
    assert [(a.code, a.amount) for a in result.adjustments] == [("full_1000", -200)]
    assert result.total == result.items_total + sum(a.amount for a in result.all_adjustments) == 900


def test_no_total_goes_below_zero(price):
    result = price([FlashSale(), BigCoupon()], [_line(0, 200)])
    assert result.lines[0].total == 0
    assert result.total == 0
    assert all(a.amount <= 0 for a in result.all_adjustments)


def test_the_result_does_not_depend_on_plugin_order(price):
    plugins = [FlashSale(), MemberPrice(), FullReduction()]
    totals = set()
    for order in itertools.permutations(plugins):
        result = price(list(order), [_line(0, 900, 3), _line(1, 250)])
        totals.add((result.total, tuple((a.source, a.code, a.amount) for a in result.all_adjustments)))
    assert len(totals) == 1


def test_validation_problems_are_reported(price):
    result = price([Refuser()], [_line(0, 100, 2)])
    assert [p.code for p in result.problems] == ["limit"]


def test_adjustments_must_be_integer_fen():
    with pytest.raises(TypeError):
        Adjustment("line", "bad", "x", "x", -1.5, 0)
    with pytest.raises(ValueError):
        Adjustment("line", "bad", "x", "x", -1)  # a line adjustment names its line
    with pytest.raises(ValueError):
        Adjustment("tax", "bad", "x", "x", 1)
