"""The circuit breaker: a plugin that keeps overrunning its budget in a store is switched off
there (and only there), the rest of the request stops calling it, the merchant finds a notice
in the console, the platform an audit entry, a log line and the admin faults page; enabling it
again starts its count afresh. The budgets are scaled down (``MALLOW_PLUGIN_BUDGET_SCALE``), so
a 20 ms sleep is far over budget."""

from __future__ import annotations

import logging

import pytest

from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    login_admin,
    login_merchant,
    make_admin,
    make_product,
    make_shopper,
    make_store,
    plugin_app,
)

NAME = "slowpoke"
CODE = """
import time

from markupsafe import Markup

from mallow.sdk import current_store, hookimpl

#: (hook, store id) of every call
CALLS = []
SLEEP = {"seconds": 0.02}


@hookimpl
def mallow_line_adjustments(context, line):
    CALLS.append(("mallow_line_adjustments", current_store().id))
    time.sleep(SLEEP["seconds"])
    return None


@hookimpl
def mallow_template_slot(slot, context):
    if slot == "home.top":
        CALLS.append(("mallow_template_slot", current_store().id))
        return Markup('<p class="slowpoke-here">慢吞吞来了</p>')
    return None
"""
THRESHOLD = 3


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    if f"mallow_{NAME}" not in fake_plugins.packages:
        fake_plugins.add(
            NAME,
            CODE,
            title={"zh_CN": "慢吞吞", "en": "Slowpoke"},
            hooks=["mallow_line_adjustments", "mallow_template_slot"],
            permissions=["pricing", "storefront"],
        )
    app = plugin_app(
        tmp_path_factory,
        request.param,
        [NAME],
        MALLOW_PLUGIN_BUDGET_SCALE=0.01,  # line adjustments: 0.5 ms; a strike from 2.5 ms
        MALLOW_PLUGIN_BREAKER_FAULTS=THRESHOLD,
    )
    yield app
    dispose_app(app)


@pytest.fixture
def plugin():
    module = __import__(f"mallow_{NAME}")
    module.CALLS.clear()
    module.SLEEP["seconds"] = 0.02
    return module


def _shop(app):
    shop = make_store(app)
    enable_plugin(app, shop, NAME)
    return shop


def _quote(client, shop, token, skus):
    response = client.post(
        f"{shop.prefix}/api/checkout/quote",
        headers=bearer(token),
        json={"items": [{"sku_id": sku, "quantity": 1} for sku in skus], "province": "浙江省"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _switch(app, shop):
    from mallow.db import db
    from mallow.plugins.models import StorePlugin

    with app.app_context():
        row = db.session.execute(db.select(StorePlugin).filter_by(store_id=shop.store_id, name=NAME)).scalar_one()
        return row.enabled, row.disabled_reason, row.disabled_detail


def _calls(plugin, hook, shop):
    return [call for call in plugin.CALLS if call == (hook, shop.store_id)]


def test_a_plugin_over_budget_again_and_again_is_switched_off_in_that_store_only(app, plugin, caplog):
    from mallow.audit import AuditEntry
    from mallow.db import db

    a, b = _shop(app), _shop(app)
    client = app.test_client()
    skus_a = [make_product(app, a, price=1000)[0] for _ in range(5)]
    [sku_b] = make_product(app, b, price=1000)
    token_a, _address = make_shopper(client, a)
    token_b, _address = make_shopper(client, b)

    # one quote of 5 lines: each line's call is a strike; the third switches the plugin off, and
    # the same request calls it no more (lines 4 and 5)
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        quote = _quote(client, a, token_a, skus_a)
    assert quote["items_total"] == 5000  # the slow answers still count (it answered nothing)
    assert len(_calls(plugin, "mallow_line_adjustments", a)) == THRESHOLD
    slow = [r for r in caplog.records if r.levelno == logging.WARNING and NAME in r.getMessage()]
    assert slow and "mallow_line_adjustments" in slow[0].getMessage() and str(a.store_id) in slow[0].getMessage()
    [opened] = [r for r in caplog.records if r.levelno == logging.ERROR and "circuit breaker" in r.getMessage()]
    assert NAME in opened.getMessage() and str(a.store_id) in opened.getMessage()

    enabled, reason, detail = _switch(app, a)
    assert (enabled, reason) == (False, "circuit_breaker")
    assert detail["hook"] == "mallow_line_adjustments" and detail["kind"] == "over_budget"
    assert detail["count"] == THRESHOLD and "ms" in detail["last_message"]

    # A: no more calls, on the API or the home page; B keeps the plugin
    plugin.CALLS.clear()
    _quote(client, a, token_a, skus_a[:1])
    assert "slowpoke-here" not in client.get(a.prefix + "/").get_data(as_text=True)
    assert not plugin.CALLS
    _quote(client, b, token_b, [sku_b])
    assert "slowpoke-here" in client.get(b.prefix + "/").get_data(as_text=True)
    assert _calls(plugin, "mallow_line_adjustments", b) and _switch(app, b)[:2] == (True, None)

    # the merchant is told in the console, the platform in the audit log
    merchant = app.test_client()
    login_merchant(merchant, a)
    dashboard = merchant.get(f"{a.prefix}/console/").get_data(as_text=True)
    # (the notice is written in the platform's language; English until its translation is in)
    assert "慢吞吞" in dashboard and ("多次出错，已自动停用" in dashboard or "switched off automatically" in dashboard)
    other = app.test_client()
    login_merchant(other, b)
    assert "慢吞吞" not in other.get(f"{b.prefix}/console/").get_data(as_text=True)
    with app.app_context():
        [entry] = db.session.execute(db.select(AuditEntry).filter_by(action="plugin.circuit_open")).scalars()
        assert (entry.store_id, entry.target, entry.actor_kind) == (a.store_id, f"plugin:{NAME}", "system")
        assert entry.detail["kind"] == "over_budget"


def test_the_admin_faults_page_shows_the_plugin_its_stores_and_the_breaker(app, plugin):
    a = _shop(app)
    client = app.test_client()
    skus = [make_product(app, a, price=500)[0] for _ in range(THRESHOLD)]
    token, _address = make_shopper(client, a)
    _quote(client, a, token, skus)
    assert _switch(app, a)[1] == "circuit_breaker"

    admin = app.test_client()
    _user, email = make_admin(app, email=f"faults-{a.slug}@example.com")
    login_admin(admin, email)
    page = admin.get("/admin/plugins/faults")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "慢吞吞" in html and "mallow_line_adjustments" in html
    stops = html.split('class="breaker-stops"', 1)[1].split("</ul>", 1)[0]
    assert a.slug in stops
    assert admin.get(f"/admin/plugins/faults?plugin={NAME}").status_code == 200
    # only platform admins see it
    assert app.test_client().get("/admin/plugins/faults").status_code in (302, 303, 401, 403)


def test_enabling_again_starts_the_count_afresh(app, plugin):
    from mallow.db import db
    from mallow.notices import is_open
    from mallow.plugin_host import loader
    from mallow.plugins import breaker
    from mallow.tenants.context import store_context

    a = _shop(app)
    client = app.test_client()
    skus = [make_product(app, a, price=500)[0] for _ in range(THRESHOLD)]
    token, _address = make_shopper(client, a)
    _quote(client, a, token, skus)
    assert _switch(app, a)[1] == "circuit_breaker"

    with store_context(a.store_id, app=app):
        assert is_open(breaker.NOTICE_KIND, NAME)
        loader.enable(a.store_id, NAME)
        breaker.reset(a.store_id, NAME)  # what the console's enable path calls
        db.session.commit()
        assert not is_open(breaker.NOTICE_KIND, NAME)
    assert _switch(app, a) == (True, None, None)
    # two more strikes: below the threshold again, it stays on
    _quote(client, a, token, skus[: THRESHOLD - 1])
    assert _switch(app, a)[:2] == (True, None)
