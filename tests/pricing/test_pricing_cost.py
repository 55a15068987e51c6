"""What pricing does once per pricing instead of once per answer or per line: who proposed is
looked up once per proposer, and whose doing a total of 0 fen is asked only of an order that
came to 0 (the pipeline adds the total up as it decides it)."""

from __future__ import annotations

import pytest

from mallow.plugins.hookspecs import hookimpl
from mallow.pricing import Adjustment, PricingContext, PricingLine, pipeline, rules
from mallow.testing import make_store


def _line(index, price, quantity=1):
    return PricingLine(index, index + 1, index + 1, f"p{index}", "", price, quantity, 0, None)


class LineDiscount:
    @hookimpl
    def mallow_line_adjustments(self, context, line):
        return [Adjustment("line", "members", "vip", "会员价", -100 * line.quantity, line.index)]


class BigCoupon:
    @hookimpl
    def mallow_order_adjustments(self, context, subtotal):
        return [Adjustment("coupon", "coupons", "c1", "大额券", -100_000)]


class Shipping:
    @hookimpl
    def mallow_shipping_fee(self, context, subtotal):
        return Adjustment("shipping", "core", "shipping", "运费", 500)


@pytest.fixture
def price(app):
    shop = make_store(app)
    manager = app.extensions["mallow.plugins"]

    def run(plugins, lines, payment_stage=None):
        for plugin in plugins:
            manager.register(plugin)
        stages = app.extensions.setdefault(pipeline.PAYMENT_STAGES, [])
        kept = list(stages)
        if payment_stage is not None:
            pipeline.register_payment_stage(app, "test_points", payment_stage)
        try:
            from mallow.tenants.context import store_context

            with store_context(shop.store_id, app=app):
                return pipeline.price(PricingContext(store_id=shop.store_id, customer_id=None, lines=lines))
        finally:
            stages[:] = kept
            for plugin in plugins:
                manager.unregister(plugin)

    return run


@pytest.fixture
def asked(monkeypatch):
    """The names :func:`rules.proposer` and the results :func:`rules.zero_total_problems` were
    asked for."""
    calls: dict[str, list] = {"proposer": [], "zero_total": []}
    proposer, zero_total = rules.proposer, rules.zero_total_problems

    def counting_proposer(name):
        calls["proposer"].append(name)
        return proposer(name)

    def counting_zero_total(priced):
        calls["zero_total"].append(priced)
        return zero_total(priced)

    monkeypatch.setattr(rules, "proposer", counting_proposer)
    monkeypatch.setattr(rules, "zero_total_problems", counting_zero_total)
    return calls


def test_a_proposer_is_looked_up_once_per_pricing_not_once_per_line(price, asked):
    result = price([LineDiscount()], [_line(0, 1000), _line(1, 500, 2), _line(2, 300)])
    assert [line.total for line in result.lines] == [900, 800, 200]
    assert len(asked["proposer"]) == len(set(asked["proposer"])) == 1


def test_an_ordinary_total_does_not_ask_whose_doing_a_zero_total_is(price, asked):
    result = price([LineDiscount()], [_line(0, 1000)])
    assert result.total == 900 and result.problems == []
    assert asked["zero_total"] == []


@pytest.mark.parametrize(
    "plugins, points, asks",
    [
        ([BigCoupon()], 0, True),  # the goods brought to 0 fen
        ([BigCoupon(), Shipping()], 0, False),  # the shipping is still paid
        ([], 300, True),  # points pay all of it
        ([], 100, False),
        ([Shipping()], 300, False),
    ],
)
def test_whose_doing_a_zero_total_is_is_asked_exactly_when_the_result_is_zero(price, asked, plugins, points, asks):
    def points_stage(context, subtotal):
        return Adjustment("points", "membership", f"points:{points}", "积分", -points) if points else None

    result = price(plugins, [_line(0, 300)], points_stage)
    assert result.total == result.items_total + sum(a.amount for a in result.all_adjustments)
    assert (result.items_total > 0 and result.total <= 0) is asks
    assert asked["zero_total"] == ([result] if asks else [])
