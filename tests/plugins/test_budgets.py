"""Budgets: every hook has one (docs/plugins.md lists them), a call over it is logged with the
plugin, hook, store and duration and counted per store (``PluginFault``), and its answer is
still used (Python cannot stop a sleeping thread; the circuit breaker stops a plugin that keeps
doing it: test_breaker.py). Budgets are scaled down in the test app
(``MALLOW_PLUGIN_BUDGET_SCALE``), so a 10 ms sleep is over budget."""

from __future__ import annotations

import logging

import pytest

from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    make_product,
    make_shopper,
    make_store,
    plugin_app,
)

NAME = "dawdler"
CODE = """
import time

from mallow.sdk import Adjustment, hookimpl


@hookimpl
def mallow_order_adjustments(context, subtotal):
    time.sleep(0.01)
    return Adjustment("order", "dawdler", "slow_off", "慢慢减", -100)
"""


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    if f"mallow_{NAME}" not in fake_plugins.packages:
        fake_plugins.add(
            NAME,
            CODE,
            title={"zh_CN": "磨蹭", "en": "Dawdler"},
            hooks=["mallow_order_adjustments"],
            permissions=["pricing"],
        )
    app = plugin_app(
        tmp_path_factory, request.param, [NAME], MALLOW_PLUGIN_BUDGET_SCALE=0.01, MALLOW_PLUGIN_BREAKER_FAULTS=10_000
    )
    yield app
    dispose_app(app)


def test_every_hook_has_a_budget_entry():
    import inspect

    from mallow.plugins import budgets, hookspecs

    hooks = {name for name, _f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("mallow_")}
    assert hooks <= set(budgets.BUDGETS), sorted(hooks - set(budgets.BUDGETS))


def test_a_call_over_its_budget_is_logged_counted_and_still_answers(app, caplog):
    from mallow.db import db
    from mallow.plugins import timings
    from mallow.plugins.models import PluginFault

    shop, other = make_store(app), make_store(app)
    enable_plugin(app, shop, NAME)
    client = app.test_client()
    [sku] = make_product(app, shop, price=3000)
    token, _address = make_shopper(client, shop)
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        for _ in range(2):
            quote = client.post(
                f"{shop.prefix}/api/checkout/quote",
                headers=bearer(token),
                json={"items": [{"sku_id": sku, "quantity": 1}], "province": "浙江省"},
            ).get_json()
            assert {"stage": "order", "source": NAME, "code": "slow_off", "label": "慢慢减", "amount": -100} in quote[
                "adjustments"
            ]
    [slow, *_] = [r for r in caplog.records if r.levelno == logging.WARNING and NAME in r.getMessage()]
    message = slow.getMessage()
    assert "mallow_order_adjustments" in message and f"store {shop.store_id}" in message and " ms" in message

    with app.app_context():
        [row] = db.session.execute(db.select(PluginFault).filter_by(plugin=NAME)).scalars()
        assert (row.store_id, row.hook, row.kind, row.count) == (
            shop.store_id,
            "mallow_order_adjustments",
            "over_budget",
            2,
        )
        assert row.slowest_ms >= 10 and "budget" in row.last_message
        assert row.window_count == 2  # 10 ms is over 5 × its 0.5 ms budget: both count for the breaker
    timing = timings.snapshot(app, NAME)[(shop.store_id, NAME, "mallow_order_adjustments")]
    assert timing.calls == 2 and timing.max_ms >= 10
    assert not any(key[0] == other.store_id for key in timings.snapshot(app, NAME))


def test_the_scale_multiplies_every_budget(app):
    from mallow.plugins import budgets

    with app.app_context():
        assert budgets.budget_ms("mallow_order_adjustments") == pytest.approx(0.5)
        assert budgets.budget_ms("mallow_register_routes") is None
        app.config["MALLOW_PLUGIN_BUDGET_SCALE"] = 2
        try:
            assert budgets.budget_ms("mallow_template_slot") == 60
        finally:
            app.config["MALLOW_PLUGIN_BUDGET_SCALE"] = 0.01
