"""The code ``mallow plugin new`` writes (templates for ``str.format``: ``{{`` is a brace): the
plugin's ``__init__.py`` (a 满减 offer: settings in money, a cross-field check, a cart slot, a
page-builder block), its block template and its tests, which pass untouched on a fresh scaffold
(tests/plugins/test_scaffold.py runs them).

The pricing example keeps to the platform's adjustment rules: it credits only itself (its
``source`` is its own name), it only ever takes money off (no surcharge), and the reduction stays
below the threshold (so it never brings an order to zero: that needs a declared permission).
"""

from __future__ import annotations

#: the hooks INIT implements: the manifest's ``hooks`` must list exactly these
HOOKS = ["mallow_order_adjustments", "mallow_register_blocks", "mallow_template_slot", "mallow_validate_settings"]

INIT = '''\
"""{title}: a Mallow plugin (made with ``mallow plugin new``): 满 X 减 Y.

* ``mallow_order_adjustments``: an order whose subtotal reaches ``threshold`` gets ``reduction``
  off, credited to this plugin (its own name as the source; a discount, never a surcharge).
* ``mallow_validate_settings``: the reduction must stay below the threshold (满 200 减 300 is
  refused with a message on the field).
* ``mallow_template_slot``: the cart says how much more to buy ("再买 ¥X 可减 ¥Y").
* ``mallow_register_blocks``: the ``{block}`` banner block for the page builder.

Amounts are integer fen (``"format": "money"`` settings are typed in yuan by the merchant and
stored in fen): never use floats for money. Texts go through ``_`` / ``_l`` of ``i18n.py``
(this plugin's own catalogue). See Mallow's docs/plugins.md.
"""
from __future__ import annotations

from mallow.sdk import Adjustment, fen_to_yuan, hookimpl, plugin_settings
from {package}.i18n import _, _l

NAME = "{name}"


@hookimpl
def mallow_order_adjustments(context, subtotal):
    settings = plugin_settings(NAME)  # this store's settings, defaults filled in
    if subtotal < settings["threshold"]:
        return None
    return [Adjustment("order", NAME, "full_reduction", settings["label"], -settings["reduction"])]


@hookimpl
def mallow_validate_settings(settings):
    # the schema checked each field; this checks them together, before they are saved
    if settings["reduction"] >= settings["threshold"]:
        return {{"reduction": _("The reduction must be less than the threshold.")}}
    return None


@hookimpl
def mallow_template_slot(slot, context):
    if slot != "cart.after_subtotal":
        return None
    settings = plugin_settings(NAME)
    missing = settings["threshold"] - context["subtotal"]
    if context["subtotal"] <= 0 or missing <= 0:
        return None
    # a plain string is escaped by Mallow; return markupsafe.Markup for markup
    return _("Buy ¥%(more)s more to save ¥%(off)s", more=fen_to_yuan(missing), off=fen_to_yuan(settings["reduction"]))


@hookimpl
def mallow_register_blocks(register):
    register("{block}", label=_l("Full-reduction banner"),
             schema={{"type": "object", "properties": {{
                 "text": {{"type": "string", "maxLength": 40, "default": "满 200 减 20", "title": _l("Text")}},
                 "highlight": {{"type": "boolean", "default": True, "title": _l("Highlight")}}}}}},
             template="templates/blocks/{block}.html")
'''

BLOCK_TEMPLATE = """\
{{# The {block} block: its settings are in block.settings (autoescaped, sandboxed). #}}
<div class="{block}{{% if block.settings.highlight %}} is-highlighted{{% endif %}}">
  <strong>{{{{ block.settings.text }}}}</strong>
</div>
"""

TEST = '''\
"""{title} on throwaway stores: Mallow's own test helpers build a platform in a temp dir,
approve and load this plugin, and create stores in milliseconds.

Run with Mallow's environment: ``pip install -e .`` then ``pytest``.
"""
from __future__ import annotations

import pytest

from mallow.sdk.testing import (bearer, block_label, block_registered, enable_plugin, make_product, make_shopper,
                               make_store, merchant_token, plugin_app, post_form)

NAME = "{name}"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return plugin_app(tmp_path_factory, "sqlite", [NAME])


def quote(app, shop, sku_id, quantity):
    client = app.test_client()
    token, _address = make_shopper(client, shop)
    response = client.post(f"{{shop.prefix}}/api/checkout/quote", headers=bearer(token),
                           json={{"items": [{{"sku_id": sku_id, "quantity": quantity}}]}})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_full_reduction_only_in_the_store_that_enabled_it(app):
    # given two stores selling the same thing, the plugin on in one of them: 满 ¥100 减 ¥15
    mine, other = make_store(app), make_store(app)
    [sku] = make_product(app, mine, price=6000)
    [other_sku] = make_product(app, other, price=6000)
    enable_plugin(app, mine, NAME, {{"threshold": 10000, "reduction": 1500}})
    # when shoppers of each price two units (¥120), and one unit (¥60) in the first store
    priced, untouched, below = quote(app, mine, sku, 2), quote(app, other, other_sku, 2), quote(app, mine, sku, 1)
    # then only the first sees ¥15 off, credited to this plugin, and only above the threshold
    assert [(a["source"], a["amount"]) for a in priced["adjustments"]] == [(NAME, -1500)]
    assert priced["total"] == 12000 - 1500
    assert untouched["total"] == 12000 and untouched["adjustments"] == []
    assert below["total"] == 6000 and below["adjustments"] == []


def test_a_reduction_not_below_the_threshold_is_refused(app):
    shop = make_store(app)
    enable_plugin(app, shop, NAME)
    client = app.test_client()
    owner = bearer(merchant_token(client, shop))
    url = f"{{shop.prefix}}/api/console/plugins/{{NAME}}/settings"
    # 满 ¥200 减 ¥300 makes no sense: refused, with a message on the reduction
    refused = client.put(url, json={{"settings": {{"threshold": 20000, "reduction": 30000}}}}, headers=owner)
    assert refused.status_code == 422
    assert refused.get_json()["fields"]["reduction"]["message"] == "减的金额须小于门槛"
    # 满 ¥200 减 ¥30 is fine
    saved = client.put(url, json={{"settings": {{"threshold": 20000, "reduction": 3000}}}}, headers=owner)
    assert saved.status_code == 200 and saved.get_json()["settings"]["reduction"] == 3000


def test_the_cart_says_how_much_more_to_buy(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=5000)
    enable_plugin(app, shop, NAME, {{"threshold": 20000, "reduction": 2000}})
    client = app.test_client()
    added = post_form(client, f"{{shop.prefix}}/cart/items", {{"sku_id": sku, "quantity": 1}},
                      form_path=f"{{shop.prefix}}/register")  # the session's CSRF token
    assert added.status_code == 303
    assert "再买 ¥150.00 可减 ¥20.00" in client.get(f"{{shop.prefix}}/cart").get_data(as_text=True)


def test_the_banner_block_is_registered_with_a_chinese_label(app):
    assert block_registered("{block}", app)
    with app.test_request_context("/"):
        assert block_label("{block}", app) == "满减横幅"


def test_its_texts_come_from_its_own_catalogue_chinese_first(app):
    from {package}.i18n import _

    with app.test_request_context("/"):
        assert _("Full-reduction banner") == "满减横幅"
    with app.test_request_context("/?lang=en"):
        assert _("Full-reduction banner") == "Full-reduction banner"
'''
