"""Adjustment rules (docs/plugins.md, "Adjustment rules"): a plugin credits only itself, a
surcharge needs ``pricing.surcharge``, the total never goes below zero, and plugins that bring an
order to 0 fen need ``pricing.zero_total`` or the checkout is refused with their name. Each test
enables, in a store of its own, plugins built here."""

from __future__ import annotations

import html
import logging
import re

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
from mallow.testing.builders import build_plugin

ORDER_PLUGIN = """
from mallow.sdk import Adjustment, hookimpl


@hookimpl
def mallow_order_adjustments(context, subtotal):
    return [Adjustment("order", {source!r}, {code!r}, {label!r}, {amount})]
"""

THIEF = """
from mallow.sdk import Adjustment, hookimpl


@hookimpl
def mallow_order_adjustments(context, subtotal):
    return [
        Adjustment("order", "groupbuy", "group_price", "拼团优惠", -500),
        Adjustment("order", "rules_thief", "own", "自家优惠", -100),
    ]
"""

FREE_LINES = """
from mallow.sdk import Adjustment, hookimpl


@hookimpl
def mallow_line_adjustments(context, line):
    return [Adjustment("line", {name!r}, "free", "免单", -line.base_total, line_index=line.index)]
"""

SHIPPING = """
from mallow.sdk import Adjustment, hookimpl


@hookimpl
def mallow_shipping_fee(context, subtotal):
    return Adjustment("shipping", {name!r}, "ship", "插件运费", {amount})
"""

PRICING = ["pricing"]
#: name → (code, title, permissions)
PLUGINS = {
    "rules_surcharge": (
        ORDER_PLUGIN.format(source="rules_surcharge", code="handling", label="手续费", amount=99900),
        "加价插件",
        PRICING,
    ),
    "rules_declared": (
        ORDER_PLUGIN.format(source="rules_declared", code="packing", label="包装费", amount=800),
        "包装插件",
        PRICING + ["pricing.surcharge"],
    ),
    "rules_thief": (THIEF, "冒名插件", PRICING),
    "rules_free": (FREE_LINES.format(name="rules_free"), "免单插件", PRICING),
    "rules_free_ok": (FREE_LINES.format(name="rules_free_ok"), "申报免单插件", PRICING + ["pricing.zero_total"]),
    "rules_big_a": (
        ORDER_PLUGIN.format(source="rules_big_a", code="big", label="大额立减", amount=-10_000_000),
        "立减甲",
        PRICING + ["pricing.zero_total"],
    ),
    "rules_big_b": (
        ORDER_PLUGIN.format(source="rules_big_b", code="big", label="大额立减", amount=-20_000_000),
        "立减乙",
        PRICING + ["pricing.zero_total"],
    ),
    "rules_ship_undeclared": (SHIPPING.format(name="rules_ship_undeclared", amount=99900), "无权运费", []),
    "rules_ship_negative": (SHIPPING.format(name="rules_ship_negative", amount=-5000), "倒贴运费", PRICING),
}


@pytest.fixture(scope="module")
def fake_plugins(tmp_path_factory):
    with build_plugin(tmp_path_factory) as plugins:
        yield plugins


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    for name, (code, title, permissions) in PLUGINS.items():
        if f"mallow_{name}" not in fake_plugins.packages:
            fake_plugins.add(name, code, title={"zh_CN": title, "en": name}, permissions=permissions)
    app = plugin_app(tmp_path_factory, request.param, list(PLUGINS))
    yield app
    dispose_app(app)


def _store(app, *plugins):
    shop = make_store(app)
    for name in plugins:
        enable_plugin(app, shop, name)
    return shop


def _quote(app, shop, price=1000, quantity=1):
    client = app.test_client()
    [sku] = make_product(app, shop, price=price, stock=10)
    token, address = make_shopper(client, shop)
    body = {"items": [{"sku_id": sku, "quantity": quantity}], "province": "浙江省"}
    quote = client.post(f"{shop.prefix}/api/checkout/quote", headers=bearer(token), json=body)
    assert quote.status_code == 200, quote.get_json()
    return client, token, address, sku, quote.get_json()


def _sources(quote) -> list[tuple[str, int]]:
    found = [(a["source"], a["amount"]) for line in quote["lines"] for a in line["adjustments"]]
    return found + [(a["source"], a["amount"]) for a in quote["adjustments"]]


def _refusals(caplog, name):
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "mallow.plugins" and r.levelno == logging.WARNING and name in r.getMessage()
    ]


def _faults(app, plugin):
    """The plugin's faults as the platform counted them: (hook, kind, count)."""
    from mallow.db import db
    from mallow.plugins.models import PluginFault

    with app.app_context():
        rows = db.session.execute(db.select(PluginFault).filter_by(plugin=plugin)).scalars()
        return [(row.hook, row.kind, row.count) for row in rows]


def _stock(app, shop, sku):
    from mallow.orders.checkout import sku_stock
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return sku_stock(sku)


def test_a_surcharge_needs_its_permission(app, caplog):
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        *_rest, undeclared = _quote(app, _store(app, "rules_surcharge"))
    assert undeclared["total"] == undeclared["items_total"] == 1000
    assert _sources(undeclared) == [] and not undeclared["problems"]
    [message] = _refusals(caplog, "rules_surcharge")
    assert "加价插件" in message and "pricing.surcharge" in message and "99900" in message
    assert _faults(app, "rules_surcharge") == [("mallow_order_adjustments", "bad_result", 1)]  # the admin sees it

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        *_rest, declared = _quote(app, _store(app, "rules_declared"))
    assert _sources(declared) == [("rules_declared", 800)]
    assert declared["total"] == 1000 + 800 and not declared["problems"]
    assert not _refusals(caplog, "rules_declared")


def test_a_plugin_credits_only_itself(app, caplog):
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        *_rest, quote = _quote(app, _store(app, "rules_thief"))
    assert _sources(quote) == [("rules_thief", -100)]  # its own discount stands, the one credited to groupbuy not
    assert quote["total"] == 900 and not quote["problems"]
    [message] = _refusals(caplog, "rules_thief")
    assert "冒名插件" in message and "'groupbuy'" in message


def test_the_total_never_goes_below_zero_with_two_big_discounts(app):
    *_rest, quote = _quote(app, _store(app, "rules_big_a", "rules_big_b"), price=1500, quantity=2)
    assert quote["items_total"] == 3000 and quote["total"] == 0 and not quote["problems"]
    assert _sources(quote) == [("rules_big_b", -3000)]  # the bigger one, capped; nothing is left for the other
    assert quote["total"] == quote["items_total"] + sum(amount for _source, amount in _sources(quote))


def test_a_shipping_fee_needs_pricing_and_is_never_negative(app, caplog):
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        *_rest, quote = _quote(app, _store(app, "rules_ship_undeclared", "rules_ship_negative"))
    assert _sources(quote) == [] and quote["total"] == 1000  # the store's own (free) shipping applies
    assert "'pricing'" in _refusals(caplog, "rules_ship_undeclared")[0]
    assert "negative" in _refusals(caplog, "rules_ship_negative")[0]


def test_an_order_brought_to_zero_needs_the_permission_over_the_api(app, caplog):
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    shop = _store(app, "rules_free")
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        client, token, address, sku, quote = _quote(app, shop)
    [problem] = quote["problems"]
    assert quote["total"] == 0 and problem["code"] == "zero_total_refused" and "免单插件" in problem["message"]
    assert any("pricing.zero_total" in m for m in _refusals(caplog, "rules_free"))

    placed = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 2}], "address_id": address},
    )
    assert placed.status_code == 422
    assert [(p["code"], "免单插件" in p["message"]) for p in placed.get_json()["problems"]] == [
        ("zero_total_refused", True)
    ]
    with store_context(shop.store_id, app=app):
        from mallow.db import db

        assert db.session.query(Order).count() == 0
    assert _stock(app, shop, sku) == 10


def test_an_order_brought_to_zero_with_the_permission_is_placed_and_paid_at_once(app):
    shop = _store(app, "rules_free_ok")
    client, token, address, sku, quote = _quote(app, shop)
    assert quote["total"] == 0 and not quote["problems"]
    placed = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
    )
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert order["total"] == 0 and _stock(app, shop, sku) == 9
    paying = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "sandbox"}
    )
    assert paying.status_code == 200 and paying.get_json()["order"]["status"] == "paid"


def test_a_free_product_is_nobodys_doing(app):
    *_rest, quote = _quote(app, _store(app, "rules_free"), price=0)
    assert quote["total"] == quote["items_total"] == 0 and not quote["problems"]


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_web_checkout_shows_the_zero_total_refusal_and_writes_nothing(app):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    shop = _store(app, "rules_free")
    [sku] = make_product(app, shop, price=1000, stock=10)
    with store_context(shop.store_id, app=app):
        product_path = f"{shop.prefix}/products/{db.session.get(Sku, sku).product_id}"
    client = app.test_client()
    register_shopper(client, shop)
    added = post_form(client, f"{shop.prefix}/cart/items", {"sku_id": sku, "quantity": 1}, form_path=product_path)
    assert added.status_code == 303

    page = client.get(f"{shop.prefix}/checkout")
    shown = _page(page)
    assert page.status_code == 200 and "免单插件" in shown and 'id="problems"' in shown
    assert re.search(r'id="place-order"[^>]*disabled', shown)  # nothing to press

    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.get_data(as_text=True))
    fields = {name: html.unescape(value) for name, value in hidden}
    fields.update(
        address_id="new",
        recipient="王五",
        phone="13700001111",
        province="浙江省",
        city="杭州市",
        district="余杭区",
        detail="文一西路 969 号",
    )
    refused = client.post(f"{shop.prefix}/checkout", data=fields)
    assert refused.status_code == 422 and "免单插件" in _page(refused)
    with store_context(shop.store_id, app=app):
        assert db.session.query(Order).count() == 0
    assert _stock(app, shop, sku) == 10
