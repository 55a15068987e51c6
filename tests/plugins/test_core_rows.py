"""Mallow's rows are read-only to plugin code: a plugin handed an order by a hook cannot change
its total or its state by assignment (the ORM would write it at the next flush, whoever flushes);
it changes what it may through the SDK's functions (``shorten_pay_deadline``)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from mallow.testing import backend_params, bearer, dispose_app, enable_plugin, make_product, make_shopper, make_store
from mallow.testing import plugin_app

NAME = "core_rows"
CODE = """
from mallow.sdk import hookimpl, shorten_pay_deadline

#: what mallow_order_placed does to the order it is handed: "free" (total = 0), "soon" (SDK)
MODE = {}


@hookimpl
def mallow_order_placed(order, context):
    if MODE.get("placed") == "free":
        order.total = 0
    elif MODE.get("placed") == "soon":
        shorten_pay_deadline(order, order.created_at + MODE["minutes"])


@hookimpl
def mallow_order_paid(order):
    if MODE.get("paid") == "complete":
        order.status = "completed"
"""


@pytest.fixture(scope="module", params=backend_params())
def world(request, fake_plugins, tmp_path_factory):
    if f"mallow_{NAME}" not in fake_plugins.packages:
        fake_plugins.add(NAME, CODE, permissions=["orders"], hooks=["mallow_order_placed", "mallow_order_paid"])
    app = plugin_app(tmp_path_factory, request.param, [NAME])
    shop = make_store(app)
    enable_plugin(app, shop, NAME)
    module = __import__(f"mallow_{NAME}")
    yield app, shop, module.MODE
    dispose_app(app)


def _place(app, shop):
    client = app.test_client()
    [sku] = make_product(app, shop, price=1500, stock=20)
    token, address = make_shopper(client, shop)
    answer = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
    )
    return client, token, answer


def _order(app, shop, order_id):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        order = db.session.get(Order, order_id)
        return order.total, order.status, order.created_at, order.pay_deadline


def test_a_plugin_setting_an_orders_total_is_refused_and_nothing_is_written(world, caplog):
    app, shop, mode = world
    mode.clear()
    mode["placed"] = "free"
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        _client, _token, answer = _place(app, shop)
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["problems"][0]["code"] == "plugin_failed"
    assert any("Order.total is Mallow's" in record.getMessage() for record in caplog.records)


def test_the_sdk_shortens_the_pay_deadline_and_an_event_cannot_complete_an_order(world):
    from mallow.testing.payments import pay_with_sandbox

    app, shop, mode = world
    mode.clear()
    mode.update(placed="soon", minutes=timedelta(minutes=3), paid="complete")
    client, token, answer = _place(app, shop)
    assert answer.status_code == 201, answer.get_json()
    order_id = answer.get_json()["id"]
    total, status, created, deadline = _order(app, shop, order_id)
    assert total == 1500 and status == "pending_payment"
    assert timedelta(minutes=2) < deadline.replace(tzinfo=None) - created.replace(tzinfo=None) <= timedelta(minutes=3)
    pay_with_sandbox(client, shop, token, order_id)
    assert _order(app, shop, order_id)[1] == "paid"  # the event's assignment was refused, the payment stands
