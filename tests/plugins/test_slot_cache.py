"""Plugin slots a plugin declared with ``slot_watches`` are served from memory while the store's
stamp holds (mallow.plugins.slot_cache): the product page's group-buy slot costs no statement
once rendered, yet a new group, a closed group or a changed campaign shows on the next request;
a slot that said ``fresh_for`` is rendered again after that long; an answer is never served in
another store or language.

Requests carry a guest cart cookie: a personal request, so the front door (whole anonymous
pages kept by mallow.edge) does not answer it and the page is rendered every time.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from mallow.testing.sql import listing, statements
from mallow.testing import (
    backend_params,
    bearer,
    build_plugin,
    disable_plugin,
    dispose_app,
    enable_plugin,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    plugin_app,
)
from mallow.testing.payments import pay_with_sandbox


#: a plugin whose product slot says which store, language and call it is, and how long it holds
CLOCK = """
from flask_babel import get_locale
from markupsafe import Markup

from mallow.sdk import current_store, fresh_for, hookimpl, slot_watches

CALLS = []
FRESH = {"seconds": None}


@hookimpl
@slot_watches("product.after_price")
def mallow_template_slot(slot, context):
    if slot != "product.after_price":
        return None
    CALLS.append(slot)
    if FRESH["seconds"] is not None:
        fresh_for(FRESH["seconds"])
    return Markup('<p class="clock">store {} · {} · call {}</p>').format(current_store().id, get_locale(), len(CALLS))
"""


@pytest.fixture(scope="module", params=backend_params())
def setup(request, tmp_path_factory):
    """An app per backend with group buy and the clock plugin loaded; the clock's module."""
    clock = f"clock_{request.param}"
    with build_plugin(tmp_path_factory) as fakes:
        fakes.add(clock, CLOCK, hooks=["mallow_template_slot"], permissions=["storefront"])
        app = plugin_app(tmp_path_factory, request.param, ["groupbuy", clock])
        yield app, clock, sys.modules[f"mallow_{clock}"]
        dispose_app(app)


@pytest.fixture
def app(setup):
    return setup[0]


@pytest.fixture
def client(app):
    return app.test_client()


class Shop:
    """A store with group buy on, one product, and the merchant's console API."""

    def __init__(self, app, client, plugins=("groupbuy",)):
        self.app, self.client = app, client
        self.shop = make_store(app)
        for name in plugins:
            enable_plugin(app, self.shop, name)
        self.skus = make_product(app, self.shop, title="拼团商品", price=10000, stock=50)
        self.product_id = self._product_of(self.skus[0])
        self.console = f"{self.shop.prefix}/api/console/x/groupbuy"
        self.token = merchant_token(client, self.shop)
        # a guest with a cart cookie (43 characters): personal requests, never answered by the front door
        self.guest = app.test_client()
        self.guest.set_cookie(f"mallow_cart_{self.shop.store_id}", "g" * 43)

    def _product_of(self, sku_id: int) -> int:
        from mallow.catalog.models import Sku
        from mallow.db import db
        from mallow.tenants.context import store_context

        with store_context(self.shop.store_id, app=self.app):
            return db.session.get(Sku, sku_id).product_id

    def page(self, language: str = "en") -> str:
        response = self.guest.get(
            f"{self.shop.prefix}/products/{self.product_id}", headers={"Accept-Language": language}
        )
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def counted_page(self) -> tuple[str, list[str]]:
        with statements() as seen:
            html = self.page()
        return html, seen

    def campaign(self, **values) -> dict:
        now = datetime.now(UTC)
        body = {
            "title": "三人团",
            "product_id": self.product_id,
            "group_size": 3,
            "tiers": [{"size": 2, "percent": "95"}, {"size": 3, "percent": "90"}],
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
            "quota": 10,
        } | values
        response = self.client.post(f"{self.console}/campaigns", headers=bearer(self.token), json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def open_group(self, campaign: dict) -> None:
        """A shopper orders in the campaign and pays: the group opens."""
        token, address = make_shopper(self.client, self.shop)
        body = {
            "items": [{"sku_id": self.skus[0], "quantity": 1}],
            "address_id": address,
            "options": {"groupbuy": {"campaign_id": campaign["id"], "group_id": None}},
        }
        placed = self.client.post(f"{self.shop.prefix}/api/orders", headers=bearer(token), json=body)
        assert placed.status_code == 201, placed.get_json()
        pay_with_sandbox(self.client, self.shop, token, placed.get_json()["id"])

    def sweep(self, at: datetime) -> dict:
        from mallow.jobs.registry import execute

        return execute(self.app, "groupbuy.sweep_store", {"store_id": self.shop.store_id, "now": at.isoformat()})


def _slot(html: str) -> str:
    found = re.search(r'<p class="groupbuy-slot">.*?</p>', html, re.S)
    return found.group(0) if found else ""


def test_the_second_render_runs_no_statement_for_the_group_buy_slot(app, client):
    # given a product with a running group-buy campaign, and the same product in a store without the plugin
    with_plugin, without = Shop(app, client), Shop(app, client, plugins=())
    with_plugin.campaign()
    without.page()  # (warm: the store, its plugins)

    # when the product page is rendered twice
    first, seen_first = with_plugin.counted_page()
    second, seen_second = with_plugin.counted_page()
    _, seen_without = without.counted_page()

    # then both show the campaign; the second costs what the page costs with no plugin at all
    assert "Group of 3" in _slot(first) and _slot(second) == _slot(first)
    assert len(seen_second) < len(seen_first), listing(seen_first)
    assert not any("groupbuy_" in s for s in seen_second), listing(seen_second)
    assert len(seen_second) == len(seen_without), (
        f"with the slot kept:\n{listing(seen_second)}\nno plugin:\n{listing(seen_without)}"
    )


def test_a_new_group_a_closed_group_and_an_ended_campaign_show_on_the_next_request(app, client):
    # given a product page showing a campaign nobody has joined yet (kept in memory)
    shop = Shop(app, client)
    campaign = shop.campaign(window_hours=1)
    assert "Open a group" in _slot(shop.page())
    assert "Open a group" in _slot(shop.page())

    # when a shopper opens a group (the group's row is inserted)
    shop.open_group(campaign)
    # then the next page says so
    assert "1 groups waiting for members" in _slot(shop.page())

    # when the sweep closes it past its deadline (an UPDATE statement, not a flush of the row)
    assert shop.sweep(datetime.now(UTC) + timedelta(hours=2))["failed"] == 1
    # then the group is gone from the next page (its deadline has not passed yet on the clock)
    assert "Open a group" in _slot(shop.page())

    # when the merchant ends the campaign
    ended = client.post(f"{shop.console}/campaigns/{campaign['id']}/end", headers=bearer(shop.token))
    assert ended.status_code == 200, ended.get_json()
    # then the slot is gone
    assert _slot(shop.page()) == ""


class Clock:
    """The slot memory's clock, moved by the test: a busy machine's slow render is no expiry."""

    def __init__(self):
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


def test_a_slot_that_said_fresh_for_is_rendered_again_after_that_long(app, client, setup, monkeypatch):
    from mallow.plugins import slot_cache

    # given the clock plugin, whose slot is true for 0.2 s
    _app, clock, module = setup
    shop = Shop(app, client, plugins=(clock,))
    moved = Clock()
    monkeypatch.setattr(slot_cache, "time", moved)
    monkeypatch.setitem(module.FRESH, "seconds", 0.2)

    # when the page is rendered twice within 0.2 s, then again 0.3 s later
    first = shop.page()
    moved.now += 0.1
    again = shop.page()
    moved.now += 0.2
    later = shop.page()

    # then the second render was served from memory, the third called the plugin again
    call = re.compile(r"call (\d+)")
    assert call.search(first).group(1) == call.search(again).group(1)
    assert int(call.search(later).group(1)) == int(call.search(first).group(1)) + 1


def test_a_kept_slot_is_never_served_in_another_store_or_language(app, client, setup):
    # given two stores with the clock plugin, each with its product of the same id
    _app, clock, _module = setup
    one, two = Shop(app, client, plugins=(clock,)), Shop(app, client, plugins=(clock,))
    assert one.product_id == two.product_id

    # when each store's product page is rendered, in English and in Chinese, twice
    pages = {(shop.shop.store_id, language): shop.page(language) for shop in (one, two) for language in ("en", "zh")}
    again = {(shop.shop.store_id, language): shop.page(language) for shop in (one, two) for language in ("en", "zh")}

    # then each page shows its own store's and language's slot, the second time from memory
    for (store_id, language), html in pages.items():
        slot = re.search(r'<p class="clock">store (\d+) · (\w+) · call (\d+)</p>', html)
        assert slot is not None and int(slot.group(1)) == store_id, html[:300]
        assert slot.group(2).startswith(language), slot.group(0)
        assert slot.group(0) in again[(store_id, language)]


def test_a_slot_is_called_again_once_its_plugin_is_switched_off_and_on(app, client):
    # given a kept group-buy slot
    shop = Shop(app, client)
    shop.campaign()
    assert "Group of 3" in _slot(shop.page())

    # when the plugin is switched off, then the slot is gone at once; back on, it is back
    disable_plugin(app, shop.shop, "groupbuy")
    assert _slot(shop.page()) == ""
    enable_plugin(app, shop.shop, "groupbuy")
    assert "Group of 3" in _slot(shop.page())
