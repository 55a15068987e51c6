"""Blame: a plugin that answers the wrong type, raises ``KeyboardInterrupt`` or ``GeneratorExit``
on a request path, or swallows its own SQL error on PostgreSQL does not take the page down: the
shopper gets an answer (200 pages, a 422 naming the plugin where checkout must refuse), and the
log names the plugin and the hook."""

from __future__ import annotations

import logging
import threading

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
    post_form,
    register_shopper,
)

NAME = "blamed"
CODE = """
from mallow.sdk import hookimpl, store_sql

#: hook → what to do: "wrong" (answer the wrong type), "interrupt", "generator_exit", "swallow"
MODE = {}


def _misbehave(hook):
    mode = MODE.get(hook)
    if mode == "interrupt":
        raise KeyboardInterrupt
    if mode == "generator_exit":
        raise GeneratorExit
    if mode == "swallow":
        try:  # an error on both: division by zero on PostgreSQL, integer overflow on SQLite
            store_sql("select abs(-9223372036854775807 - 1) + 1/0")
        except Exception:
            pass  # the plugin hides its own error: PostgreSQL's transaction is failed now
    return mode


@hookimpl
def mallow_line_adjustments(context, line):
    if _misbehave("mallow_line_adjustments") == "wrong":
        return {"amount": -100}  # a dict, not an Adjustment
    return None


@hookimpl
def mallow_order_adjustments(context, subtotal):
    _misbehave("mallow_order_adjustments")
    return None


@hookimpl
def mallow_shipping_fee(context, subtotal):
    _misbehave("mallow_shipping_fee")
    return None


@hookimpl
def mallow_template_slot(slot, context):
    if slot in ("cart.after_subtotal", "checkout.after_receipt") and _misbehave("mallow_template_slot") == "wrong":
        return 42
    return None
"""
HOOKS = ["mallow_line_adjustments", "mallow_order_adjustments", "mallow_shipping_fee", "mallow_template_slot"]
NEW_ADDRESS = {
    "address_id": "new",
    "recipient": "王五",
    "phone": "13700001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "detail": "文一西路 969 号",
}


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    if f"mallow_{NAME}" not in fake_plugins.packages:
        fake_plugins.add(
            NAME,
            CODE,
            title={"zh_CN": "背锅侠", "en": "Blamed"},
            hooks=HOOKS,
            permissions=["pricing", "storefront"],
        )
    app = plugin_app(tmp_path_factory, request.param, [NAME], MALLOW_PLUGIN_BREAKER_FAULTS=10_000)
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def shop(app):
    shop = make_store(app)
    enable_plugin(app, shop, NAME)
    return shop


@pytest.fixture
def mode():
    module = __import__(f"mallow_{NAME}")
    module.MODE.clear()
    yield module.MODE
    module.MODE.clear()


def _blamed(caplog, hook):
    return [
        r
        for r in caplog.records
        if r.name == "mallow.plugins"
        and r.levelno >= logging.ERROR
        and NAME in r.getMessage()
        and hook in r.getMessage()
    ]


def _faults(app, kind):
    from mallow.db import db
    from mallow.plugins.models import PluginFault

    with app.app_context():
        return {
            row.hook: row.count
            for row in db.session.execute(db.select(PluginFault).filter_by(plugin=NAME, kind=kind)).scalars()
        }


def _browser_with_cart(app, shop):
    """A signed-in shopper with one item in the cart (a browser session)."""
    client = app.test_client()
    register_shopper(client, shop)
    [sku] = make_product(app, shop, price=2000, stock=50)
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        product_path = f"{shop.prefix}/products/{db.session.get(Sku, sku).product_id}"
    added = post_form(client, f"{shop.prefix}/cart/items", {"sku_id": sku, "quantity": 1}, form_path=product_path)
    assert added.status_code == 303
    return client


def _answered(call, seconds=60):
    """Run ``call`` in a thread: it must answer (a hung request fails the test, not the run)."""
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("response", call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert "response" in box, "the request did not answer"
    return box["response"]


def _order(app, shop):
    client = app.test_client()
    [sku] = make_product(app, shop, price=1500, stock=20)
    token, address = make_shopper(client, shop)
    return lambda: client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
    )


def test_a_wrong_answer_on_cart_and_checkout_pages_is_left_out_and_blamed(app, shop, mode, caplog):
    client = _browser_with_cart(app, shop)
    mode.update({"mallow_line_adjustments": "wrong", "mallow_template_slot": "wrong"})
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        cart = client.get(f"{shop.prefix}/cart")
        checkout = client.get(f"{shop.prefix}/checkout")
    assert cart.status_code == 200 and checkout.status_code == 200
    assert "¥20.00" in cart.get_data(as_text=True)  # the line at its own price, no "-100"
    assert _blamed(caplog, "mallow_line_adjustments") and _blamed(caplog, "mallow_template_slot")
    assert "expected an Adjustment" in _blamed(caplog, "mallow_line_adjustments")[0].getMessage()
    faults = _faults(app, "bad_result")
    assert faults.get("mallow_line_adjustments", 0) >= 1 and faults.get("mallow_template_slot", 0) >= 1

    # an order through the API is refused with the plugin's title, not a 500
    placed = _order(app, shop)()
    assert placed.status_code == 422
    [problem] = placed.get_json()["problems"]
    assert problem["code"] == "plugin_failed" and "背锅侠" in problem["message"]


@pytest.mark.parametrize("raised", ["interrupt", "generator_exit"])
def test_a_base_exception_on_a_request_path_gets_an_answer_and_blames_the_plugin(app, shop, mode, caplog, raised):
    client = _browser_with_cart(app, shop)
    place = _order(app, shop)
    mode.update({"mallow_line_adjustments": raised, "mallow_template_slot": raised})
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        cart = _answered(lambda: client.get(f"{shop.prefix}/cart"))
        checkout = _answered(lambda: client.get(f"{shop.prefix}/checkout"))
        placed = _answered(place)
    assert cart.status_code == 200 and checkout.status_code == 200
    assert placed.status_code == 422 and placed.get_json()["problems"][0]["code"] == "plugin_failed"
    [blamed, *_more] = _blamed(caplog, "mallow_line_adjustments")
    expected = KeyboardInterrupt if raised == "interrupt" else GeneratorExit
    assert blamed.exc_info and blamed.exc_info[0] is expected
    assert _faults(app, "error").get("mallow_line_adjustments", 0) >= 1
    # the next request is served normally
    mode.clear()
    assert client.get(f"{shop.prefix}/cart").status_code == 200


@pytest.mark.parametrize("hook", ["mallow_shipping_fee", "mallow_order_adjustments"])
def test_a_swallowed_sql_error_is_rolled_back_and_blamed_on_postgresql(app, shop, mode, caplog, hook):
    place = _order(app, shop)
    mode[hook] = "swallow"
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        placed = place()
    assert placed.status_code == 201, placed.get_json()  # the checkout works on both
    if app.mallow_backend == "sqlite":  # SQLite's transaction survives a failed statement: nothing to blame
        assert not _blamed(caplog, hook)
        return
    [blamed] = _blamed(caplog, hook)
    assert "swallowed a database error" in blamed.getMessage()
    assert "shipping" not in blamed.getMessage().replace(hook, "")  # the core is not blamed
    assert _faults(app, "error").get(hook, 0) >= 1
