"""Per-store enablement: a plugin's hooks, routes, menu entries and template slots exist only in
the stores that enabled it, with their settings; disabling is immediate and loses nothing; a
plugin that raises takes down no store that did not enable it, and gives a clear 422 in those
that did."""

from __future__ import annotations

import logging

import pytest

from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    login_merchant,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    plugin_app,
    post_form,
)

DISCOUNT = """
import sqlalchemy as sa
from flask import Blueprint, jsonify
from markupsafe import Markup
from sqlalchemy.orm import Mapped, mapped_column

from mallow.sdk import Adjustment, current_store, hookimpl, plugin_model_base, plugin_settings

NAME = "fake_discount"
Base = plugin_model_base(NAME)


class Note(Base):
    __tablename__ = "fake_discount_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(40))


storefront = Blueprint("deals", __name__)
api = Blueprint("deals_api", __name__)
console = Blueprint("deals_console", __name__)


@storefront.get("/")
def deals():
    return "<p id=deals>deals of " + current_store().slug + "</p>"


@api.get("/ping")
def ping():
    return jsonify(store=current_store().slug, settings=plugin_settings(NAME))


@console.get("/")
def console_home():
    return "console deals"


@hookimpl
def mallow_register_routes(register):
    register(storefront, "storefront")
    register(api, "store_api")
    register(console, "console")


@hookimpl
def mallow_line_adjustments(context, line):
    settings = plugin_settings(NAME)
    amount = line.base_total * settings["percent"] // 100
    return [Adjustment("line", NAME, "fake_percent", settings["label"], -amount, line_index=line.index)] if amount else None


@hookimpl
def mallow_console_menu(store):
    return [{"label": "Fake deals", "endpoint": "deals_console.console_home"}]


def sweep(store, now):
    return plugin_settings(NAME)["percent"]


@hookimpl
def mallow_register_jobs(register):
    register("fake_discount.sweep", sweep, every_seconds=3600)


@hookimpl
def mallow_template_slot(slot, context):
    if slot == "product.after_price":
        return Markup('<p class="fake-deal"><b>') + context["product"].title + Markup("</b></p>")  # title escaped
    if slot == "home.top":
        return "<script>alert('fake')</script>"
    if slot == "cart.after_subtotal":
        return Markup('<p class="fake-cart">') + f"再买 {20000 - context['subtotal']} 分可减" + Markup("</p>")
    if slot == "checkout.after_receipt":
        return Markup('<p class="fake-checkout">') + f"合计 {context['total']} 分" + Markup("</p>")
    if slot == "order.after_status":
        return Markup('<p class="fake-order">') + context["order"].number + Markup("</p>")
"""
DISCOUNT_SETTINGS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label"],
    "properties": {
        "percent": {
            "type": "integer",
            "minimum": 1,
            "maximum": 90,
            "default": 10,
            "title": {"zh_CN": "折扣比例", "en": "Percent off"},
        },
        "label": {"type": "string", "minLength": 1, "maxLength": 10, "default": "测试折扣", "title": "Label"},
        "mode": {"type": "string", "enum": ["all", "members"], "default": "all", "title": "Who"},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5, "title": "Ratio"},
        "loud": {"type": "boolean", "default": False, "title": "Loud"},
    },
}
BROKEN = """
from mallow.sdk import hookimpl


@hookimpl
def mallow_line_adjustments(context, line):
    return _compute(line)


def _compute(line):
    raise RuntimeError("the broken plugin broke")


@hookimpl
def mallow_template_slot(slot, context):
    raise RuntimeError("the broken plugin broke a page")


@hookimpl
def mallow_console_menu(store):
    raise RuntimeError("the broken plugin broke the menu")
"""


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    if not fake_plugins.packages:
        fake_plugins.add(
            "fake_discount",
            DISCOUNT,
            title={"zh_CN": "测试折扣", "en": "Fake discount"},
            settings_schema=DISCOUNT_SETTINGS,
            permissions=["pricing", "storefront"],
        )
        fake_plugins.add("fake_broken", BROKEN, title="坏插件")
    app = plugin_app(tmp_path_factory, request.param, ["fake_discount", "fake_broken"])
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def shops(app):
    """Store A enables the discount (20 %), B enables nothing, C enables the broken plugin."""
    from mallow.testing import enable_plugin

    a, b, c = make_store(app), make_store(app), make_store(app)
    enable_plugin(app, a, "fake_discount", {"percent": 20, "label": "八折"})
    enable_plugin(app, c, "fake_broken")
    return {"A": a, "B": b, "C": c}


def _quote(client, shop, sku_id, quantity=2):
    token, _address = make_shopper(client, shop)
    response = client.post(
        f"{shop.prefix}/api/checkout/quote",
        headers=bearer(token),
        json={"items": [{"sku_id": sku_id, "quantity": quantity}]},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


_TOKENS: dict[tuple[int, str], str] = {}


def _owner_token(client, shop):
    """One token per store and app (logins are rate-limited per account)."""
    key = (id(client.application), shop.slug)
    if key not in _TOKENS:
        _TOKENS[key] = merchant_token(client, shop)
    return _TOKENS[key]


def test_a_plugin_changes_prices_only_where_enabled(app, shops):
    client = app.test_client()
    [sku_a] = make_product(app, shops["A"], price=1000)
    [sku_b] = make_product(app, shops["B"], price=1000)
    a = _quote(client, shops["A"], sku_a)
    assert a["lines"][0]["adjustments"] == [
        {"stage": "line", "source": "fake_discount", "code": "fake_percent", "label": "八折", "amount": -400}
    ]
    assert a["total"] == a["items_total"] - 400
    b = _quote(client, shops["B"], sku_b)
    assert b["lines"][0]["adjustments"] == [] and b["total"] == b["items_total"] == 2000
    assert "fake_discount" not in str(b)


def test_disabling_is_immediate_and_keeps_settings_and_data(app, shops):
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow.testing import disable_plugin, enable_plugin

    shop = make_store(app)
    enable_plugin(app, shop, "fake_discount", {"percent": 30, "label": "七折"})
    module = __import__("mallow_fake_discount")
    with store_context(shop.store_id, app=app):  # the plugin's own table is in the store's schema
        db.session.add(module.Note(text="kept"))
        db.session.commit()
    client = app.test_client()
    [sku] = make_product(app, shop, price=1000)
    assert _quote(client, shop, sku, 1)["total"] == 700
    disable_plugin(app, shop, "fake_discount")
    quoted = _quote(client, shop, sku, 1)  # the next request: no trace
    assert quoted["total"] == 1000 and quoted["lines"][0]["adjustments"] == []
    assert client.get(f"{shop.prefix}/x/fake_discount/").status_code == 404
    enable_plugin(app, shop, "fake_discount")  # enabled again: the stored settings come back
    assert _quote(client, shop, sku, 1)["total"] == 700
    with store_context(shop.store_id, app=app):
        assert [n.text for n in db.session.execute(db.select(module.Note)).scalars()] == ["kept"]


def test_the_console_api_lists_enables_configures_and_disables(app, shops):
    client = app.test_client()
    shop = make_store(app)
    headers = bearer(_owner_token(client, shop))
    api = f"{shop.prefix}/api/console/plugins"
    items = {p["name"]: p for p in client.get(api, headers=headers).get_json()["items"]}
    assert {"fake_discount", "fake_broken"} <= set(items)
    offer = items["fake_discount"]
    assert offer["enabled"] is False and offer["author"] == "Test Author" and offer["settings"]["percent"] == 10
    assert [p["code"] for p in offer["permissions"]] == ["pricing", "storefront"]
    enabled = client.post(
        f"{api}/fake_discount/enable", json={"settings": {"percent": 15, "label": "85折"}}, headers=headers
    )
    assert enabled.status_code == 200 and enabled.get_json()["enabled"] is True
    saved = client.put(
        f"{api}/fake_discount/settings", json={"settings": {"percent": 25, "label": "75折"}}, headers=headers
    )
    assert saved.status_code == 200 and saved.get_json()["settings"]["percent"] == 25
    assert (
        client.get(f"{shop.prefix}/api/x/fake_discount/ping", headers=headers).get_json()["settings"]["label"] == "75折"
    )
    disabled = client.post(f"{api}/fake_discount/disable", headers=headers)
    assert disabled.status_code == 200 and disabled.get_json()["enabled"] is False
    assert disabled.get_json()["settings"]["percent"] == 25  # kept
    assert client.post(f"{api}/no_such_plugin/enable", json={}, headers=headers).status_code == 404
    # another store's owner has no say here
    other = bearer(_owner_token(client, shops["B"]))
    assert client.post(f"{api}/fake_discount/enable", json={}, headers=other).status_code == 403


@pytest.mark.parametrize(
    "settings, field, code",
    [
        ({"percent": 95}, "percent", "maximum"),
        ({"percent": "ten"}, "percent", "type"),
        ({"label": ""}, "label", "minLength"),
        ({"mode": "everyone"}, "mode", "enum"),
        ({"ratio": 2}, "ratio", "maximum"),
        ({"loud": "yes"}, "loud", "type"),
        ({"colour": "red"}, "colour", "unknown"),
    ],
)
def test_settings_are_checked_against_the_manifest(app, shops, settings, field, code):
    client = app.test_client()
    # store A has the plugin on (20 %, "八折"): refused settings change nothing there
    a = shops["A"]
    headers = bearer(_owner_token(client, a))
    plugin_api = f"{a.prefix}/api/console/plugins/fake_discount"
    response = client.put(f"{plugin_api}/settings", json={"settings": settings}, headers=headers)
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert fields[field]["code"] == code and fields[field]["message"]
    assert client.post(f"{plugin_api}/enable", json={"settings": settings}, headers=headers).status_code == 422
    [adjustment] = _quote(client, a, make_product(app, a, price=1000)[0])["lines"][0]["adjustments"]
    assert (adjustment["label"], adjustment["amount"]) == ("八折", -400)
    # store B never enabled it: a refused enable leaves it off
    b = shops["B"]
    b_headers = bearer(_owner_token(client, b))
    enabling = client.post(
        f"{b.prefix}/api/console/plugins/fake_discount/enable", json={"settings": settings}, headers=b_headers
    )
    assert enabling.status_code == 422
    [offer] = [
        p
        for p in client.get(f"{b.prefix}/api/console/plugins", headers=b_headers).get_json()["items"]
        if p["name"] == "fake_discount"
    ]
    assert offer["enabled"] is False
    assert _quote(client, b, make_product(app, b, price=1000)[0])["lines"][0]["adjustments"] == []


def test_the_console_page_generates_the_settings_form_and_reports_errors(app):
    shop = make_store(app)
    client = app.test_client()
    login_merchant(client, shop)
    page = client.get(f"{shop.prefix}/console/plugins")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "测试折扣" in html and "坏插件" in html and "Test Author" in html and "在结账时改价" in html
    form = client.get(f"{shop.prefix}/console/plugins/fake_discount").get_data(as_text=True)
    assert 'name="s_percent"' in form and 'type="number"' in form and 'max="90"' in form
    assert '<select id="f-s_mode" name="s_mode">' in form and 'type="checkbox" name="s_loud"' in form
    assert "折扣比例" in form  # the title in the page's language
    settings_url = f"{shop.prefix}/console/plugins/fake_discount"
    bad = post_form(client, settings_url, {"s_percent": "abc", "s_label": "x", "s_mode": "all", "s_ratio": "0.5"})
    assert bad.status_code == 422 and 'data-field="percent"' in bad.get_data(as_text=True)
    too_big = post_form(client, settings_url, {"s_percent": "120", "s_label": "x", "s_mode": "all", "s_ratio": "0.5"})
    assert too_big.status_code == 422 and "90" in too_big.get_data(as_text=True)
    ok = post_form(
        client,
        settings_url,
        {"s_percent": "35", "s_label": "六五折", "s_mode": "members", "s_ratio": "0.25", "s_loud": ["0", "1"]},
    )
    assert ok.status_code == 303
    # CSRF-less posts are refused; turning it on goes through the form
    assert client.post(f"{shop.prefix}/console/plugins/fake_discount/enable").status_code == 400
    on = post_form(
        client, f"{shop.prefix}/console/plugins/fake_discount/enable", {}, form_path=f"{shop.prefix}/console/plugins"
    )
    assert on.status_code == 303
    token = _owner_token(client, shop)
    [offer] = [
        p
        for p in client.get(f"{shop.prefix}/api/console/plugins", headers=bearer(token)).get_json()["items"]
        if p["name"] == "fake_discount"
    ]
    assert offer["enabled"] and offer["settings"] == {
        "percent": 35,
        "label": "六五折",
        "mode": "members",
        "ratio": 0.25,
        "loud": True,
    }
    # the plugin's console menu entry appears once it is on
    console = client.get(f"{shop.prefix}/console/").get_data(as_text=True)
    assert f'href="{shop.prefix}/console/x/fake_discount/"' in console and "Fake deals" in console


def test_only_the_owner_manages_plugins(app):
    from mallow.testing import PASSWORD

    shop = make_store(app)
    owner = app.test_client()
    login_merchant(owner, shop)
    post_form(
        owner,
        f"{shop.prefix}/console/staff",
        {"email": f"staff-{shop.slug}@example.com", "name": "店员", "password": PASSWORD},
    )
    staff = app.test_client()
    post_form(staff, "/merchant/login", {"email": f"staff-{shop.slug}@example.com", "password": PASSWORD})
    assert staff.get(f"{shop.prefix}/console/").status_code == 200
    assert staff.get(f"{shop.prefix}/console/plugins").status_code == 403


def test_plugin_routes_answer_only_in_stores_that_enabled_the_plugin(app, shops):
    client = app.test_client()
    a, b = shops["A"], shops["B"]
    assert client.get(f"{a.prefix}/x/fake_discount/").status_code == 200
    assert f"deals of {a.slug}" in client.get(f"{a.prefix}/x/fake_discount/").get_data(as_text=True)
    assert client.get(f"{b.prefix}/x/fake_discount/").status_code == 404
    api_b = client.get(f"{b.prefix}/api/x/fake_discount/ping")
    assert api_b.status_code == 404 and api_b.get_json()["error"] == "not_found"
    assert client.get(f"{a.prefix}/api/x/fake_discount/ping").get_json()["store"] == a.slug
    # a plugin's console pages are for the store's staff only
    assert client.get(f"{a.prefix}/console/x/fake_discount/").status_code in (302, 303)
    login_merchant(client, a)
    assert client.get(f"{a.prefix}/console/x/fake_discount/").status_code == 200
    assert client.get(f"{b.prefix}/console/x/fake_discount/").status_code == 404


def test_template_slots_show_enabled_plugins_escaped_and_survive_a_broken_one(app, shops):
    client = app.test_client()
    a, b, c = shops["A"], shops["B"], shops["C"]
    products = {key: make_product(app, shop, title="<i>核桃</i>") for key, shop in shops.items()}
    del products
    pages = {key: client.get(f"{shop.prefix}/").get_data(as_text=True) for key, shop in shops.items()}
    assert "&lt;script&gt;alert(" in pages["A"] and "<script>alert(" not in pages["A"]
    assert "alert(" not in pages["B"] and "alert(" not in pages["C"]
    product_pages = {}
    for key, shop in (("A", a), ("B", b), ("C", c)):
        from mallow.catalog.models import Product
        from mallow.db import db
        from mallow.tenants.context import store_context

        with store_context(shop.store_id, app=app):
            product_id = db.session.execute(db.select(Product.id).order_by(Product.id.desc())).scalars().first()
        response = client.get(f"{shop.prefix}/products/{product_id}")
        assert response.status_code == 200, key  # the broken plugin's slot does not break C's page
        product_pages[key] = response.get_data(as_text=True)
    assert '<p class="fake-deal"><b>&lt;i&gt;核桃&lt;/i&gt;</b></p>' in product_pages["A"]
    assert "fake-deal" not in product_pages["B"] and "fake-deal" not in product_pages["C"]


def test_a_raising_plugin_fails_only_where_enabled_with_a_clear_message(app, shops, caplog):
    client = app.test_client()
    # store B never enabled the broken plugin: checkout works
    [sku_b] = make_product(app, shops["B"], price=1000)
    token_b, address_b = make_shopper(client, shops["B"])
    placed = client.post(
        f"{shops['B'].prefix}/api/orders",
        headers=bearer(token_b),
        json={"items": [{"sku_id": sku_b, "quantity": 1}], "address_id": address_b},
    )
    assert placed.status_code == 201, placed.get_json()
    # store C enabled it: a 422 naming the plugin, never a 500, nothing written, the fault logged
    [sku_c] = make_product(app, shops["C"], price=1000, stock=5)
    token_c, address_c = make_shopper(client, shops["C"])
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        refused = client.post(
            f"{shops['C'].prefix}/api/orders",
            headers=bearer(token_c),
            json={"items": [{"sku_id": sku_c, "quantity": 1}], "address_id": address_c},
        )
    assert refused.status_code == 422, refused.get_data(as_text=True)
    [problem] = refused.get_json()["problems"]
    assert problem["code"] == "plugin_failed" and "坏插件" in problem["message"] and "暂时" in problem["message"]
    assert any("fake_broken" in record.getMessage() and record.exc_info for record in caplog.records)
    quote = client.post(
        f"{shops['C'].prefix}/api/checkout/quote",
        headers=bearer(token_c),
        json={"items": [{"sku_id": sku_c, "quantity": 1}]},
    ).get_json()
    assert [p["code"] for p in quote["problems"]] == ["plugin_failed"]
    english = client.post(
        f"{shops['C'].prefix}/api/orders",
        headers={**bearer(token_c), "Accept-Language": "en"},
        json={"items": [{"sku_id": sku_c, "quantity": 1}], "address_id": address_c},
    )
    assert english.get_json()["problems"][0]["message"] == "坏插件 is unavailable right now. Try again later."
    from mallow.orders.checkout import sku_stock
    from mallow.tenants.context import store_context

    with store_context(shops["C"].store_id, app=app):
        assert sku_stock(sku_c) == 5  # nothing was taken


def test_a_plugin_schedule_visits_only_the_stores_that_enabled_it(app, shops):
    from mallow.jobs.registry import execute, jobs_of

    assert jobs_of(app).periodic()["fake_discount.sweep"] == 3600
    results = execute(app, "fake_discount.sweep", {})
    assert results[shops["A"].store_id] == 20  # with the store's own settings
    assert shops["B"].store_id not in results and shops["C"].store_id not in results
    assert execute(app, "fake_discount.sweep_store", {"store_id": shops["B"].store_id}) is None
    assert execute(app, "fake_discount.sweep_store", {"store_id": shops["A"].store_id}) == 20


def test_cart_checkout_and_order_pages_show_enabled_plugins_slots(app, shops):
    """A plugin can speak on the cart (再买 ¥X 可减), at checkout and on the order page, in the
    stores that enabled it only; its text is escaped."""
    from mallow.testing import PASSWORD, post_form, register_shopper

    pages = {}
    for key in ("A", "B"):
        shop, client = shops[key], app.test_client()
        [sku] = make_product(app, shop, title="核桃", price=5000)
        login = register_shopper(client, shop)
        added = post_form(
            client,
            f"{shop.prefix}/cart/items",
            {"sku_id": sku, "quantity": 2},
            form_path=f"{shop.prefix}/account/profile",
        )
        assert added.status_code in (302, 303), added.get_data(as_text=True)[:300]
        cart = client.get(f"{shop.prefix}/cart").get_data(as_text=True)
        checkout = client.get(f"{shop.prefix}/checkout").get_data(as_text=True)
        token = client.post(f"{shop.prefix}/api/tokens", json={"login": login, "password": PASSWORD}).get_json()[
            "token"
        ]
        address = client.post(
            f"{shop.prefix}/api/addresses",
            headers=bearer(token),
            json={
                "recipient": "李四",
                "phone": "13912345678",
                "province": "浙江省",
                "city": "杭州市",
                "district": "西湖区",
                "detail": "文三路 100 号",
            },
        ).get_json()["id"]
        placed = client.post(
            f"{shop.prefix}/api/orders",
            headers=bearer(token) | {"Idempotency-Key": f"slots-{key}"},
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": address},
        )
        assert placed.status_code == 201, placed.get_json()
        order = placed.get_json()
        page = client.get(f"{shop.prefix}/orders/{order['id']}")
        assert page.status_code == 200
        pages[key] = (cart, checkout, page.get_data(as_text=True), order["number"])
    cart, checkout, order_page, number = pages["A"]
    assert '<p class="fake-cart">再买 12000 分可减</p>' in cart  # 20000 − 2 × 5000 × 0.8 (the plugin's 八折)
    assert '<p class="fake-checkout">合计 ' in checkout
    assert f'<p class="fake-order">{number}</p>' in order_page
    for page in pages["B"][:3]:
        assert "fake-cart" not in page and "fake-checkout" not in page and "fake-order" not in page
