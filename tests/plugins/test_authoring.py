"""The plugin author's loop: template slots on the cart and account pages (in both themes), and
a test kit that builds throwaway plugins, approves them through the platform's own review, and
says what to do when a plugin is not installed or its manifest is broken."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from mallow.sdk.testing import BrokenManifest, PluginNotInstalled, build_plugin
from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    make_product,
    make_store,
    merchant_token,
    plugin_app,
    post_form,
    register_shopper,
)

SLOTS = "cart_nudge"
SLOTS_CODE = """
from markupsafe import Markup

from mallow.sdk import fen_to_yuan, hookimpl, plugin_settings


@hookimpl
def mallow_template_slot(slot, context):
    settings = plugin_settings("cart_nudge")
    if slot == "cart.after_subtotal":
        missing = settings["threshold"] - context["subtotal"]
        if missing > 0:
            return f"再买 ¥{fen_to_yuan(missing)} 可减 ¥{fen_to_yuan(settings['reduction'])}"
    if slot == "account.top":
        return Markup('<p id="nudge-account">') + context["customer"].nickname + "，满减进行中" + Markup("</p>")
    return None
"""
SLOTS_SCHEMA = {
    "type": "object",
    "properties": {
        "threshold": {"type": "integer", "format": "money", "default": 20000},
        "reduction": {"type": "integer", "format": "money", "default": 2000},
    },
}


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    fake_plugins.add(
        SLOTS, SLOTS_CODE, settings_schema=SLOTS_SCHEMA, hooks=["mallow_template_slot"], permissions=["storefront"]
    )
    app = plugin_app(tmp_path_factory, request.param, [SLOTS])
    yield app
    dispose_app(app)


def _cart_html(app, shop, sku, quantity):
    client = app.test_client()
    added = post_form(
        client, f"{shop.prefix}/cart/items", {"sku_id": sku, "quantity": quantity}, form_path=f"{shop.prefix}/register"
    )
    assert added.status_code == 303
    return client.get(f"{shop.prefix}/cart").get_data(as_text=True)


@pytest.mark.parametrize("theme", ["default", "promo"])
def test_the_cart_shows_how_much_more_to_buy_from_the_plugins_settings(app, theme):
    shop, other = make_store(app), make_store(app)
    [sku] = make_product(app, shop, price=6000)
    [other_sku] = make_product(app, other, price=6000)
    enable_plugin(app, shop, SLOTS, {"threshold": 20000, "reduction": 2000})
    client = app.test_client()
    put = client.put(
        f"{shop.prefix}/api/console/theme", json={"theme": theme}, headers=bearer(merchant_token(client, shop))
    )
    assert put.status_code == 200, put.get_json()
    # ¥60 in the cart, 满 ¥200 减 ¥20: ¥140 to go
    assert "再买 ¥140.00 可减 ¥20.00" in _cart_html(app, shop, sku, 1)
    assert "再买 ¥20.00 可减 ¥20.00" in _cart_html(app, shop, sku, 3)
    assert "可减" not in _cart_html(app, shop, sku, 4)  # reached: nothing to nudge
    assert "可减" not in _cart_html(app, other, other_sku, 1)  # the plugin is off there


def test_the_account_page_has_a_slot_at_the_top(app):
    shop, other = make_store(app), make_store(app)
    enable_plugin(app, shop, SLOTS)
    client = app.test_client()
    register_shopper(client, shop)
    html = client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert 'id="nudge-account"' in html and "满减进行中" in html
    assert html.index('id="me"') < html.index('id="nudge-account"') < html.index('id="my-orders"')
    elsewhere = app.test_client()
    register_shopper(elsewhere, other)
    assert "nudge-account" not in elsewhere.get(f"{other.prefix}/account").get_data(as_text=True)


def test_kit_approval_goes_through_sync_and_review(app):
    from mallow.audit import AuditEntry
    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    with app.app_context():
        release = db.session.execute(db.select(PluginRelease).filter_by(name=SLOTS)).scalar_one()
        assert release.status == "approved" and release.reviewed_by is not None
        actions = set(
            db.session.execute(
                db.select(AuditEntry.action).where(AuditEntry.target == f"plugin:{SLOTS}@0.1.0")
            ).scalars()
        )
        assert {"plugin.submitted", "plugin.approved"} <= actions


def test_a_plugin_that_is_not_installed_says_what_to_do(tmp_path_factory):
    with pytest.raises(PluginNotInstalled) as raised:
        plugin_app(tmp_path_factory, "sqlite", ["not_installed_here"])
    assert "plugin 'not_installed_here' is not installed in this environment" in str(raised.value)
    assert "pip install -e ." in str(raised.value)


def test_a_broken_manifest_names_the_file_and_the_json_problem(fake_plugins, tmp_path_factory):
    folder = fake_plugins.add("broken_manifest", "")
    (folder / "plugin.json").write_text('{"name": "broken_manifest", "version": "0.1.0",}', encoding="utf-8")
    with pytest.raises(BrokenManifest) as raised:
        plugin_app(tmp_path_factory, "sqlite", ["broken_manifest"])
    message = str(raised.value)
    assert str(folder / "plugin.json") in message and "line 1" in message


@pytest.mark.parametrize(
    "text, expected",
    [
        ('["broken_shape"]', "must hold a JSON object"),
        ('{"name": "broken_shape", "version": "1", "hooks": "x"}', "'hooks'"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_named_too(fake_plugins, tmp_path_factory, text, expected):
    folder = fake_plugins.add("broken_shape", "")
    (folder / "plugin.json").write_text(text, encoding="utf-8")
    with pytest.raises(BrokenManifest) as raised:
        plugin_app(tmp_path_factory, "sqlite", ["broken_shape"])
    assert str(folder / "plugin.json") in str(raised.value) and expected in str(raised.value)


def test_build_plugin_installs_for_the_block_only(tmp_path_factory):
    with build_plugin(tmp_path_factory) as plugins:
        folder = plugins.add("throwaway_kit", "VALUE = 42\n", version="1.2.3", hooks=[])
        assert str(folder.parent) in sys.path
        [entry] = [e for e in importlib.metadata.entry_points(group="mallow.plugins") if e.name == "throwaway_kit"]
        assert entry.load().VALUE == 42
        plugins.add("throwaway_kit", "VALUE = 43\n", version="1.2.4")  # an upgrade replaces the dist-info
        assert [p.name for p in folder.parent.glob("*.dist-info")] == ["mallow_throwaway_kit-1.2.4.dist-info"]
    assert str(folder.parent) not in sys.path and "mallow_throwaway_kit" not in sys.modules
    assert not [e for e in importlib.metadata.entry_points(group="mallow.plugins") if e.name == "throwaway_kit"]
