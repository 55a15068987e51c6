"""One fake plugin per extension point of checkout and the order lifecycle, enabled in store A
only: each hook fires in A with the right arguments and never in B, and an implementation that
raises is contained as documented (docs/plugins.md, "When a plugin raises"): a clear error in A,
nothing at all in B."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, UTC

import pytest

from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    plugin_app,
)

NAME = "fake_events"
EVENTS = '''
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.sdk import Adjustment, current_store, db, hookimpl, plugin_model_base

Base = plugin_model_base("fake_events")
#: every call: (hook, store id, order id or None, details)
CALLS = []
#: hook name → the exception its implementation raises (set by the tests)
RAISE = {}


class Seen(Base):
    """What the plugin wrote in its own table: gone again when its hook raised."""
    __tablename__ = "fake_events_seen"
    id: Mapped[int] = mapped_column(primary_key=True)
    hook: Mapped[str] = mapped_column(sa.String(40))
    order_id: Mapped[int | None] = mapped_column(nullable=True)


def _record(hook, order=None, **details):
    CALLS.append((hook, current_store().id, getattr(order, "id", None), details))
    db.session.add(Seen(hook=hook, order_id=getattr(order, "id", None)))
    db.session.flush()
    if hook in RAISE:
        raise RAISE[hook]


@hookimpl
def mallow_shipping_fee(context, subtotal):
    CALLS.append(("mallow_shipping_fee", current_store().id, None,
                  {"subtotal": subtotal, "province": context.province, "customer_id": context.customer_id}))
    if "mallow_shipping_fee" in RAISE:
        raise RAISE["mallow_shipping_fee"]
    return Adjustment("shipping", "fake_events", "flat", "测试运费", 1234)


@hookimpl
def mallow_order_placed(order, context):
    _record("mallow_order_placed", order, status=order.status, customer_id=context.customer_id,
            items=[(line.sku_id, line.quantity) for line in context.lines])


@hookimpl
def mallow_order_paid(order):
    _record("mallow_order_paid", order, status=order.status)


@hookimpl
def mallow_order_cancelled(order, reason):
    _record("mallow_order_cancelled", order, status=order.status, reason=reason)


@hookimpl
def mallow_order_completed(order):
    _record("mallow_order_completed", order, status=order.status)


def note(store, text):
    db.session.add(Seen(hook="job:" + text))
    db.session.commit()
    return store.id


def tick(store, now):
    return now.isoformat()


def census():
    return "platform job ran"


@hookimpl
def mallow_register_jobs(register):
    register("fake_events.note", note)
    register("fake_events.tick", tick, every_seconds=120)
    register("fake_events.census", census, store=False)
'''


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    if NAME not in fake_plugins.packages and f"mallow_{NAME}" not in fake_plugins.packages:
        fake_plugins.add(
            NAME, EVENTS, title={"zh_CN": "事件插件", "en": "Events plugin"}, permissions=["pricing", "tables"]
        )  # its shipping fee changes prices
    app = plugin_app(tmp_path_factory, request.param, [NAME])
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def shops(app):
    """The plugin is enabled in A only."""
    a, b = make_store(app), make_store(app)
    enable_plugin(app, a, NAME)
    return {"A": a, "B": b}


@pytest.fixture
def plugin():
    """The fake plugin's module, its call log emptied, raising nothing."""
    module = __import__(f"mallow_{NAME}")
    module.CALLS.clear()
    module.RAISE.clear()
    yield module
    module.RAISE.clear()


def _calls(plugin, hook, shop=None):
    return [call for call in plugin.CALLS if call[0] == hook and (shop is None or call[1] == shop.store_id)]


def _seen(app, shop, hook, order_id):
    from mallow.db import db
    from mallow.tenants.context import store_context

    module = __import__(f"mallow_{NAME}")
    with store_context(shop.store_id, app=app):
        return db.session.execute(
            db.select(db.func.count()).select_from(module.Seen).filter_by(hook=hook, order_id=order_id)
        ).scalar_one()


def _order(app, shop, order_id):
    from mallow.db import db
    from mallow.orders.checkout import sku_stock
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        order = db.session.get(Order, order_id)
        return order.status, {line.sku_id: sku_stock(line.sku_id) for line in order.lines}


def _place(client, shop, token, address, sku, quantity=1):
    return client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": quantity}], "address_id": address},
    )


def _placed(app, shop, price=1000, stock=10):
    client = app.test_client()
    [sku] = make_product(app, shop, price=price, stock=stock)
    token, address = make_shopper(client, shop)
    placed = _place(client, shop, token, address, sku)
    assert placed.status_code == 201, placed.get_json()
    return client, token, placed.get_json()


def _pay(client, shop, token, order):
    from mallow.testing.payments import pay_with_sandbox

    pay_with_sandbox(client, shop, token, order["id"])


def _plugin_errors(caplog):
    return [r for r in caplog.records if r.name == "mallow.plugins" and r.levelno >= logging.ERROR]


def _failures(caplog, hook):
    return [r for r in _plugin_errors(caplog) if NAME in r.getMessage() and hook in r.getMessage() and r.exc_info]


def test_shipping_fee_comes_from_the_plugin_where_enabled(app, shops, plugin, caplog):
    client = app.test_client()
    quotes = {}
    for key, shop in shops.items():
        [sku] = make_product(app, shop, price=1500)
        token, _address = make_shopper(client, shop)
        quotes[key] = client.post(
            f"{shop.prefix}/api/checkout/quote",
            headers=bearer(token),
            json={"items": [{"sku_id": sku, "quantity": 2}], "province": "浙江省"},
        ).get_json()
    a, b = quotes["A"], quotes["B"]
    assert {"stage": "shipping", "source": NAME, "code": "flat", "label": "测试运费", "amount": 1234} in a[
        "adjustments"
    ]
    assert a["total"] == a["items_total"] + 1234 == 3000 + 1234
    assert all(adjustment["source"] != NAME for adjustment in b["adjustments"]) and NAME not in str(b)
    [(_hook, store_id, _order_id, details)] = _calls(plugin, "mallow_shipping_fee")
    assert store_id == shops["A"].store_id and details["subtotal"] == 3000 and details["province"] == "浙江省"

    # raising: A's checkout is refused with the plugin's name (422, nothing written); B never notices
    plugin.RAISE["mallow_shipping_fee"] = RuntimeError("the shipping plugin broke")
    [sku_a] = make_product(app, shops["A"], price=1500, stock=3)
    token_a, address_a = make_shopper(client, shops["A"])
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        refused = _place(client, shops["A"], token_a, address_a, sku_a)
    assert refused.status_code == 422
    [problem] = refused.get_json()["problems"]
    assert problem["code"] == "plugin_failed" and "事件插件" in problem["message"]
    assert _failures(caplog, "mallow_shipping_fee")
    caplog.clear()
    _client, _token, order_b = _placed(app, shops["B"])
    assert order_b["total"] == 1000 and not _plugin_errors(caplog)


def test_order_placed_fires_in_the_enabled_store_and_can_refuse(app, shops, plugin, caplog):
    from mallow.orders.checkout import CheckoutProblems
    from mallow.pricing.model import Problem

    client, _token, order = _placed(app, shops["A"])
    [(_hook, store_id, order_id, details)] = _calls(plugin, "mallow_order_placed")
    assert (store_id, order_id, details["status"]) == (shops["A"].store_id, order["id"], "pending_payment")
    assert details["items"] == [(order["lines"][0]["sku_id"], 1)]
    assert _seen(app, shops["A"], "mallow_order_placed", order["id"]) == 1  # written in the order's transaction
    _placed(app, shops["B"])
    assert not _calls(plugin, "mallow_order_placed", shops["B"])

    [sku] = make_product(app, shops["A"], price=1000, stock=5)
    token, address = make_shopper(client, shops["A"])
    # raising CheckoutProblems refuses the order with the plugin's own message
    plugin.RAISE["mallow_order_placed"] = CheckoutProblems([Problem("fake_closed", "今天不接单")])
    refused = _place(client, shops["A"], token, address, sku)
    assert refused.status_code == 422
    assert [(p["code"], p["message"]) for p in refused.get_json()["problems"]] == [("fake_closed", "今天不接单")]
    # any other exception refuses it as "<title> is unavailable", logged with the plugin's name
    plugin.RAISE["mallow_order_placed"] = RuntimeError("the plugin broke")
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        broken = _place(client, shops["A"], token, address, sku)
    assert broken.status_code == 422
    [problem] = broken.get_json()["problems"]
    assert problem["code"] == "plugin_failed" and "事件插件" in problem["message"]
    assert any(NAME in r.getMessage() and r.exc_info for r in _plugin_errors(caplog))
    # both times nothing was written: no order, the stock untouched
    orders = client.get(f"{shops['A'].prefix}/api/orders", headers=bearer(token)).get_json()
    assert orders["items"] == []
    from mallow.orders.checkout import sku_stock
    from mallow.tenants.context import store_context

    with store_context(shops["A"].store_id, app=app):
        assert sku_stock(sku) == 5
    # B never sees the plugin, raising or not
    caplog.clear()
    _placed(app, shops["B"])
    assert not _calls(plugin, "mallow_order_placed", shops["B"]) and not _plugin_errors(caplog)


def test_order_paid_fires_where_enabled_and_a_raise_cannot_undo_the_payment(app, shops, plugin, caplog):
    client, token, order = _placed(app, shops["A"])
    _pay(client, shops["A"], token, order)
    [(_hook, store_id, order_id, details)] = _calls(plugin, "mallow_order_paid")
    assert (store_id, order_id, details) == (shops["A"].store_id, order["id"], {"status": "paid"})
    client_b, token_b, order_b = _placed(app, shops["B"])
    _pay(client_b, shops["B"], token_b, order_b)
    assert not _calls(plugin, "mallow_order_paid", shops["B"]) and _order(app, shops["B"], order_b["id"])[0] == "paid"

    plugin.RAISE["mallow_order_paid"] = RuntimeError("the plugin broke on payment")
    client, token, order = _placed(app, shops["A"])
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        _pay(client, shops["A"], token, order)
    assert _order(app, shops["A"], order["id"])[0] == "paid"  # the payment stands
    assert _failures(caplog, "mallow_order_paid")  # logged with the plugin's name
    assert _seen(app, shops["A"], "mallow_order_paid", order["id"]) == 0  # its own writes rolled back
    caplog.clear()
    client_b, token_b, order_b = _placed(app, shops["B"])
    _pay(client_b, shops["B"], token_b, order_b)
    assert _order(app, shops["B"], order_b["id"])[0] == "paid" and not _plugin_errors(caplog)


def test_order_cancelled_fires_with_its_reason_and_a_raise_cannot_stop_it(app, shops, plugin, caplog):
    from mallow.jobs.registry import execute

    client, token, order = _placed(app, shops["A"], stock=10)
    cancelled = client.post(f"{shops['A'].prefix}/api/orders/{order['id']}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200, cancelled.get_json()
    _client, _token, timed_out = _placed(app, shops["A"], stock=10)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    execute(app, "orders.sweep_store", {"store_id": shops["A"].store_id, "now": later})
    calls = {
        order_id: details for _hook, _store, order_id, details in _calls(plugin, "mallow_order_cancelled", shops["A"])
    }
    assert calls[order["id"]] == {"status": "cancelled", "reason": "shopper"}
    assert calls[timed_out["id"]] == {"status": "cancelled", "reason": "payment_timeout"}
    client_b, token_b, order_b = _placed(app, shops["B"])
    client_b.post(f"{shops['B'].prefix}/api/orders/{order_b['id']}/cancel", headers=bearer(token_b))
    assert not _calls(plugin, "mallow_order_cancelled", shops["B"])

    plugin.RAISE["mallow_order_cancelled"] = RuntimeError("the plugin broke on cancel")
    client, token, order = _placed(app, shops["A"], stock=10)
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        response = client.post(f"{shops['A'].prefix}/api/orders/{order['id']}/cancel", headers=bearer(token))
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    status, stock = _order(app, shops["A"], order["id"])
    assert status == "cancelled" and list(stock.values()) == [10]  # the stock is back all the same
    assert _failures(caplog, "mallow_order_cancelled")
    assert _seen(app, shops["A"], "mallow_order_cancelled", order["id"]) == 0
    caplog.clear()
    client_b, token_b, order_b = _placed(app, shops["B"])
    assert (
        client_b.post(f"{shops['B'].prefix}/api/orders/{order_b['id']}/cancel", headers=bearer(token_b)).get_json()[
            "status"
        ]
        == "cancelled"
    )
    assert not _plugin_errors(caplog)


_MERCHANT_TOKENS: dict = {}


def _deliver(app, shop, client, token, order) -> None:
    """Paid, shipped by the merchant, received by the shopper."""
    key = (id(app), shop.slug)
    if key not in _MERCHANT_TOKENS:
        _MERCHANT_TOKENS[key] = merchant_token(client, shop)
    _pay(client, shop, token, order)
    shipped = client.post(
        f"{shop.prefix}/api/console/orders/{order['id']}/ship",
        headers=bearer(_MERCHANT_TOKENS[key]),
        json={"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
    )
    assert shipped.status_code == 200, shipped.get_json()
    confirmed = client.post(f"{shop.prefix}/api/orders/{order['id']}/confirm", headers=bearer(token))
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "delivered"


def _complete_due(app, shop) -> dict:
    from mallow.jobs.registry import execute

    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    return execute(app, "orders.sweep_store", {"store_id": shop.store_id, "now": later})


def test_order_completed_fires_where_enabled_and_a_raise_cannot_stop_it(app, shops, plugin, caplog):
    client, token, order = _placed(app, shops["A"])
    _deliver(app, shops["A"], client, token, order)
    assert _complete_due(app, shops["A"])["completed"] == 1
    [(_hook, store_id, order_id, details)] = _calls(plugin, "mallow_order_completed")
    assert (store_id, order_id, details) == (shops["A"].store_id, order["id"], {"status": "completed"})
    client_b, token_b, order_b = _placed(app, shops["B"])
    _deliver(app, shops["B"], client_b, token_b, order_b)
    assert _complete_due(app, shops["B"])["completed"] == 1
    assert not _calls(plugin, "mallow_order_completed", shops["B"])

    plugin.RAISE["mallow_order_completed"] = RuntimeError("the plugin broke on completion")
    client, token, order = _placed(app, shops["A"])
    _deliver(app, shops["A"], client, token, order)
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        assert _complete_due(app, shops["A"])["completed"] == 1  # the store's sweep goes on
    assert _order(app, shops["A"], order["id"])[0] == "completed"
    assert _failures(caplog, "mallow_order_completed")
    assert _seen(app, shops["A"], "mallow_order_completed", order["id"]) == 0
    caplog.clear()
    client_b, token_b, order_b = _placed(app, shops["B"])
    _deliver(app, shops["B"], client_b, token_b, order_b)
    assert _complete_due(app, shops["B"])["completed"] == 1 and not _plugin_errors(caplog)


# --- Jobs ------------------------------------------------------------------------------------


def test_store_jobs_run_only_in_stores_that_enabled_the_plugin(app, shops):
    from mallow.jobs.registry import execute

    runner = app.extensions["mallow.jobs"]
    runner.enqueue("fake_events.note", store_id=shops["A"].store_id, text="queued")
    runner.run_pending()
    assert _seen(app, shops["A"], "job:queued", None) == 1
    assert execute(app, "fake_events.note", {"store_id": shops["A"].store_id, "text": "direct"}) == shops["A"].store_id
    # B has no such table: the job does nothing there rather than fail
    assert execute(app, "fake_events.note", {"store_id": shops["B"].store_id, "text": "nope"}) is None
    assert execute(app, "fake_events.census", {}) == "platform job ran"


def test_a_schedule_sweeps_only_the_stores_that_enabled_the_plugin(app, shops):
    from mallow.jobs.registry import execute, jobs_of

    periodic_jobs, registered = jobs_of(app).periodic, jobs_of(app).registered
    assert periodic_jobs()["fake_events.tick"] == 120 and "fake_events.tick_store" not in periodic_jobs()
    assert registered()["fake_events.tick_store"].idempotent  # a sweep may be retried
    at = "2031-05-06T07:08:09+00:00"
    results = execute(app, "fake_events.tick", {"now": at})
    assert results[shops["A"].store_id] == at and shops["B"].store_id not in results
    assert execute(app, "fake_events.tick_store", {"store_id": shops["A"].store_id, "now": at}) == at
    assert execute(app, "fake_events.tick_store", {"store_id": shops["B"].store_id}) is None


def test_job_names_are_checked_when_the_plugin_registers_them(app):
    from flask import Flask

    from mallow.jobs import registry
    from mallow.plugin_host.jobs import registrar

    bare = Flask(__name__)
    registry.init_app(bare)
    register = registrar(bare, "fake_checks")
    with pytest.raises(ValueError, match="fake_checks"):
        register("orders.sweep", lambda store, now: None, every_seconds=60)  # not its own namespace
    with pytest.raises(ValueError):
        register("fake_checks.Bad-Name", lambda store: None)
    with pytest.raises(TypeError):
        register("fake_checks.nothing", None)
    with pytest.raises(ValueError):
        register("fake_checks.never", lambda store, now: None, every_seconds=0)
    register("fake_checks.once", lambda store: None)
    with pytest.raises(ValueError, match="twice"):
        register("fake_checks.once", lambda store: None)
    # a name Mallow's own jobs use is refused, whoever asks for it
    with pytest.raises(ValueError):
        registrar(app, "orders")("orders.sweep_store", lambda store: None)
