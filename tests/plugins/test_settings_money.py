"""A plugin's settings as a merchant meets them: money typed in yuan and stored in fen, limits
told in yuan, and the plugin's own check of one setting against another (满 200 减 300 is
refused), called for that plugin only; a plugin that breaks in its check is blamed, and the
save is refused with a message instead of a 500."""

from __future__ import annotations

import logging

import pytest

from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    login_merchant,
    make_store,
    merchant_token,
    plugin_app,
    post_form,
)

OFFER = "money_offer"
OFFER_CODE = """
from mallow.sdk import hookimpl

CHECKED = []


@hookimpl
def mallow_validate_settings(settings):
    CHECKED.append(dict(settings))
    if settings["reduction"] >= settings["threshold"]:
        return {"reduction": "减的金额须小于门槛", "nonsense": "a message for no field"}
    return None
"""
MONEY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "threshold": {
            "type": "integer",
            "format": "money",
            "minimum": 100,
            "maximum": 1000000,
            "default": 20000,
            "title": {"zh_CN": "门槛", "en": "Threshold"},
        },
        "reduction": {"type": "integer", "format": "money", "minimum": 1, "default": 2000, "title": "减多少"},
        "label": {"type": "string", "default": "满减"},
    },
}
#: a neighbour whose check refuses everything: it must never be asked about another plugin's settings
STRICT = "strict_neighbour"
STRICT_CODE = """
from mallow.sdk import hookimpl


@hookimpl
def mallow_validate_settings(settings):
    return {"settings": "the neighbour refuses everything"}
"""
BROKEN = "broken_check"
BROKEN_CODE = """
from mallow.sdk import hookimpl

ANSWER = {"mode": "raise"}


@hookimpl
def mallow_validate_settings(settings):
    if ANSWER["mode"] == "raise":
        raise RuntimeError("the check itself is broken")
    return ["not", "a", "dict"]
"""
ONE_SETTING = {"type": "object", "properties": {"note": {"type": "string", "default": ""}}}


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    hook = ["mallow_validate_settings"]
    fake_plugins.add(OFFER, OFFER_CODE, title="满减测试", settings_schema=MONEY, hooks=hook)
    fake_plugins.add(STRICT, STRICT_CODE, settings_schema=ONE_SETTING, hooks=hook)
    fake_plugins.add(BROKEN, BROKEN_CODE, settings_schema=ONE_SETTING, hooks=hook)
    app = plugin_app(tmp_path_factory, request.param, [OFFER, STRICT, BROKEN])
    yield app
    dispose_app(app)


def _stored(app, shop, name):
    from mallow.db import db
    from mallow.plugins.models import StorePlugin

    with app.app_context():
        row = db.session.execute(db.select(StorePlugin).filter_by(store_id=shop.store_id, name=name)).scalar_one()
        return dict(row.settings)


def _console(app):
    shop = make_store(app)
    enable_plugin(app, shop, OFFER)
    client = app.test_client()
    login_merchant(client, shop)
    return shop, client, f"{shop.prefix}/console/plugins/{OFFER}"


def test_money_is_shown_and_typed_in_yuan_and_stored_in_fen(app):
    shop, client, url = _console(app)
    # the form shows the default ¥200 as yuan, with a ¥ before the field
    html = client.get(url).get_data(as_text=True)
    assert 'name="s_threshold"' in html and 'value="200.00"' in html and 'value="20.00"' in html
    assert "¥</span><input" in html and 'inputmode="decimal"' in html
    # the merchant types "100.50" and "20": stored as 10050 and 2000 fen
    saved = post_form(client, url, {"s_threshold": "100.50", "s_reduction": "20", "s_label": "满减"})
    assert saved.status_code == 303, saved.get_data(as_text=True)[:2000]
    assert _stored(app, shop, OFFER)["threshold"] == 10050 and _stored(app, shop, OFFER)["reduction"] == 2000
    assert 'value="100.50"' in client.get(url).get_data(as_text=True)


@pytest.mark.parametrize("typed", ["abc", "12.345", "-5", "1e3"])
def test_what_is_not_an_amount_gets_a_message_on_its_field(app, typed):
    shop, client, url = _console(app)
    refused = post_form(client, url, {"s_threshold": typed, "s_reduction": "20", "s_label": "满减"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="e-s_threshold"' in html and "100" in html and "99.50" in html  # 请输入金额，如 100 或 99.50
    assert f'value="{typed}"' in html  # what the merchant typed stays in the field
    assert _stored(app, shop, OFFER)["threshold"] == 20000


def test_limits_are_in_fen_in_the_schema_and_told_in_yuan(app):
    shop, client, url = _console(app)
    refused = post_form(client, url, {"s_threshold": "0.50", "s_reduction": "0.10", "s_label": "满减"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    error = html[html.index('id="e-s_threshold"') :][:200]
    assert "¥1.00" in error  # minimum 100 fen
    assert _stored(app, shop, OFFER)["threshold"] == 20000


def test_the_api_stays_in_fen(app):
    shop = make_store(app)
    enable_plugin(app, shop, OFFER)
    client = app.test_client()
    owner = bearer(merchant_token(client, shop))
    url = f"{shop.prefix}/api/console/plugins/{OFFER}/settings"
    saved = client.put(url, json={"settings": {"threshold": 10050, "reduction": 500}}, headers=owner)
    assert saved.status_code == 200 and saved.get_json()["settings"]["threshold"] == 10050
    assert client.put(url, json={"settings": {"threshold": "100.50"}}, headers=owner).status_code == 422


def test_the_plugin_refuses_settings_that_do_not_fit_together(app):
    shop, client, url = _console(app)
    # 满 ¥200 减 ¥300 in the console: refused, with the plugin's message on the reduction
    refused = post_form(client, url, {"s_threshold": "200", "s_reduction": "300", "s_label": "满减"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "减的金额须小于门槛" in html[html.index('id="e-s_reduction"') :][:200]
    assert "a message for no field" in html  # a message for no field is shown for the whole form
    assert _stored(app, shop, OFFER)["reduction"] == 2000
    # through the API too (in fen), and when enabling with such settings
    api_client = app.test_client()
    owner = bearer(merchant_token(api_client, shop))
    api = api_client.put(
        f"{shop.prefix}/api/console/plugins/{OFFER}/settings",
        json={"settings": {"threshold": 20000, "reduction": 30000}},
        headers=owner,
    )
    assert api.status_code == 422 and api.get_json()["fields"]["reduction"]["message"] == "减的金额须小于门槛"
    other = make_store(app)
    enabled = api_client.post(
        f"{other.prefix}/api/console/plugins/{OFFER}/enable",
        json={"settings": {"threshold": 20000, "reduction": 20000}},
        headers=bearer(merchant_token(api_client, other)),
    )
    assert enabled.status_code == 422 and "reduction" in enabled.get_json()["fields"]
    # 满 ¥200 减 ¥30 is saved; the neighbour that refuses everything was never asked
    saved = post_form(client, url, {"s_threshold": "200", "s_reduction": "30", "s_label": "满减"})
    assert saved.status_code == 303
    assert _stored(app, shop, OFFER)["reduction"] == 3000


def test_the_check_gets_the_settings_with_defaults_after_the_schema(app):
    import mallow_money_offer

    shop = make_store(app)
    mallow_money_offer.CHECKED.clear()
    enable_plugin(app, shop, OFFER, {"threshold": 5000})
    assert mallow_money_offer.CHECKED == [{"threshold": 5000, "reduction": 2000, "label": "满减"}]
    # a value the schema refuses never reaches the plugin
    client = app.test_client()
    refused = client.put(
        f"{shop.prefix}/api/console/plugins/{OFFER}/settings",
        json={"settings": {"threshold": 50}},
        headers=bearer(merchant_token(client, shop)),
    )
    assert refused.status_code == 422 and len(mallow_money_offer.CHECKED) == 1


@pytest.mark.parametrize("mode", ["raise", "wrong type"])
def test_a_broken_check_is_blamed_and_the_save_refused_with_a_message(app, mode, caplog):
    import mallow_broken_check

    mallow_broken_check.ANSWER["mode"] = mode
    shop = make_store(app)
    client = app.test_client()
    owner = bearer(merchant_token(client, shop))
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        response = client.post(
            f"{shop.prefix}/api/console/plugins/{BROKEN}/enable", json={"settings": {"note": "x"}}, headers=owner
        )
    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {"settings"}
    assert any(BROKEN in record.getMessage() for record in caplog.records)
    listed = client.get(f"{shop.prefix}/api/console/plugins", headers=owner).get_json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert not any(item["name"] == BROKEN and item["enabled"] for item in items)
