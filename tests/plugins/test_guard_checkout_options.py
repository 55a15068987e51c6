"""A plugin that declares ``checkout_options`` in its manifest is not called for a checkout whose
options do not name one of them (issue 13: an ordinary cart's quote or order paid for the flash
sale's and the group buy's guarded hook calls, each in its own savepoint, for nothing).

Two plugins built here: ``opt_deal`` declares ``"checkout_options": ["opt_deal"]``, ``any_deal``
declares nothing. Both count their calls and discount every line; an order without options gets
only ``any_deal``'s discount, one naming ``opt_deal`` gets the better of the two, and
``opt_deal``'s checkout hooks (validation, line and order adjustments, ``mallow_order_placed``)
run exactly when the checkout names it.
"""

from __future__ import annotations

import json

import pytest

from mallow.plugin_host.discovery import manifest_of, wrongly_shaped
from mallow.testing import backend_params, bearer, dispose_app, enable_plugin, make_product, make_shopper, make_store
from mallow.testing import plugin_app
from mallow.testing.builders import build_plugin

CODE = """
from mallow.sdk import Adjustment, hookimpl

CALLS = []


@hookimpl
def mallow_validate_checkout(context):
    CALLS.append("validate")


@hookimpl
def mallow_line_adjustments(context, line):
    CALLS.append("line")
    return [Adjustment("line", "{name}", "deal", "立减", -{amount}, line_index=line.index)]


@hookimpl
def mallow_order_adjustments(context, subtotal):
    CALLS.append("order")


@hookimpl
def mallow_order_placed(order, context):
    CALLS.append("placed")
"""


@pytest.fixture(scope="module")
def deal_plugins(tmp_path_factory):
    with build_plugin(tmp_path_factory) as plugins:
        for name, amount in (("opt_deal", 30), ("any_deal", 10)):
            folder = plugins.add(
                name, CODE.replace("{name}", name).replace("{amount}", str(amount)), permissions=["pricing"]
            )
            if name == "opt_deal":  # the interest declaration (the test kit's builder writes no such key)
                manifest = json.loads((folder / "plugin.json").read_text(encoding="utf-8"))
                manifest["checkout_options"] = ["opt_deal"]
                (folder / "plugin.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        yield plugins


@pytest.fixture(scope="module", params=backend_params())
def deals_app(request, deal_plugins, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["opt_deal", "any_deal"])
    yield app
    dispose_app(app)


@pytest.fixture
def shop(deals_app):
    shop = make_store(deals_app)
    enable_plugin(deals_app, shop, "opt_deal")
    enable_plugin(deals_app, shop, "any_deal")
    return shop


def _calls(name: str) -> list[str]:
    import sys

    return sys.modules[f"mallow_{name}"].CALLS


def _order(client, shop, token, address, skus, options=None):
    body = {"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "address_id": address}
    if options is not None:
        body["options"] = options
    return client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)


def test_the_manifest_reads_the_declaration_and_checks_its_shape():
    manifest = manifest_of({"name": "x", "version": "1", "checkout_options": ["flashsale"]}, "mallow_x")
    assert manifest.checkout_options == ("flashsale",)
    assert manifest.as_dict()["checkout_options"] == ["flashsale"]
    assert manifest_of({"name": "x", "version": "1"}, "mallow_x").checkout_options == ()
    assert wrongly_shaped({"checkout_options": "flashsale"}) == "checkout_options"
    assert wrongly_shaped({"checkout_options": [1]}) == "checkout_options"
    assert wrongly_shaped({"checkout_options": ["flashsale"]}) is None


def test_the_bundled_checkout_plugins_declare_their_options():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "plugins"
    for name in ("flashsale", "groupbuy"):
        manifest = json.loads((root / name / "plugin.json").read_text(encoding="utf-8"))
        assert manifest["checkout_options"] == [name]
    assert "checkout_options" not in json.loads((root / "distribution" / "plugin.json").read_text(encoding="utf-8"))


def test_a_checkout_without_the_option_does_not_call_the_plugin(deals_app, shop):
    client = deals_app.test_client()
    token, address = make_shopper(client, shop)
    skus = [make_product(deals_app, shop, title=f"核桃 {n}", price=1000, stock=10)[0] for n in range(2)]
    _calls("opt_deal").clear()
    _calls("any_deal").clear()

    response = _order(client, shop, token, address, skus)

    assert response.status_code == 201, response.get_json()
    assert _calls("opt_deal") == []
    assert _calls("any_deal") == ["validate", "line", "line", "order", "placed"]
    order = response.get_json()
    assert [(a["source"], a["amount"]) for a in order["adjustments"]] == [("any_deal", -10), ("any_deal", -10)]
    assert order["total"] == 2 * 1000 - 20

    # other options than its own do not call it either; the cart's quote has no options at all
    assert _order(client, shop, token, address, skus[:1], options={"elsewhere": {}}).status_code == 201
    client.post(f"{shop.prefix}/api/cart/items", headers=bearer(token), json={"sku_id": skus[0], "quantity": 1})
    assert client.get(f"{shop.prefix}/api/cart", headers=bearer(token)).status_code == 200
    assert _calls("opt_deal") == []


def test_a_checkout_naming_the_option_calls_every_checkout_hook_of_the_plugin(deals_app, shop):
    client = deals_app.test_client()
    token, address = make_shopper(client, shop)
    skus = [make_product(deals_app, shop, title=f"核桃 {n}", price=1000, stock=10)[0] for n in range(2)]
    _calls("opt_deal").clear()
    _calls("any_deal").clear()

    response = _order(client, shop, token, address, skus, options={"opt_deal": {"any": "value"}})

    assert response.status_code == 201, response.get_json()
    assert _calls("opt_deal") == ["validate", "line", "line", "order", "placed"]
    assert _calls("any_deal") == ["validate", "line", "line", "order", "placed"]
    order = response.get_json()  # the biggest line discount wins each line
    assert [(a["source"], a["amount"]) for a in order["adjustments"]] == [("opt_deal", -30), ("opt_deal", -30)]
    assert order["total"] == 2 * 1000 - 60
