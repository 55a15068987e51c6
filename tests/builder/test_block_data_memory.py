"""What a plugin's page-builder block resolves is kept in the process's memory while the store's
stamp holds, when the block declared what it shows (``watches=``): the flash-sale countdown and
the group-buy list (mallow.plugin_host.blocks, the memory of mallow.plugins.kept_answers).

A second cold render of the demo home (render cache and kept pages off) runs no statement for
its plugin blocks; a commit that writes a sale or a campaign shows on the next render; a sale
that starts or ends shows its new state then (the resolver said how long its data is true with
``fresh_for``, and a page it lands in, kept by the front door, is kept no longer); a block that
raised is not kept; a block whose plugin is off is not shown; a block that declared nothing is
resolved on every render.

Requests of the shop tests carry a guest cart cookie (personal: the front door never answers
them, so every one is rendered), except where the front door's kept page is the point.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from mallow.testing import (
    backend_params,
    bearer,
    disable_plugin,
    dispose_app,
    enable_plugin,
    make_product,
    make_store,
    merchant_token,
    plugin_app,
)
from mallow.testing.sql import listing, statements

#: a cold demo home whose plugin blocks are kept: the page row with the library images, every
#: product of the page in one statement (tests/builder/test_cold_render.py)
COLD_DEMO_HOME_KEPT = 2
PLUGIN_TABLES = ("flashsale_", "groupbuy_")


def _plugin_statements(seen: list[str]) -> list[str]:
    return [s for s in seen if any(table in s for table in PLUGIN_TABLES)]


# --- the demo home, every page cache off ---------------------------------------------------------


def test_a_second_cold_demo_home_runs_no_statement_for_its_plugin_blocks(demo_app):
    from mallow.plugin_host.blocks import data_memory

    client = demo_app.test_client()
    assert client.get("/s/demo/").status_code == 200  # the store and the version met by this process
    data_memory(demo_app).clear()

    # when the cold home is rendered twice
    with statements() as first:
        one = client.get("/s/demo/")
    with statements() as second:
        two = client.get("/s/demo/")

    # then both show the flash sale and the group buys; the second ran nothing of the plugins
    assert one.status_code == two.status_code == 200
    html = one.get_data(as_text=True)
    assert 'class="fs-block"' in html and 'class="gb-block"' in html
    assert two.get_data(as_text=True) == html
    assert "X-Mallow-Cache" not in two.headers
    assert any("flashsale_" in s for s in first) and any("groupbuy_" in s for s in first), listing(first)
    assert _plugin_statements(second) == [], listing(second)
    assert len(second) == COLD_DEMO_HOME_KEPT, listing(second)
    assert len(first) > len(second)


# --- a store of its own per test: sales, campaigns, time ----------------------------------------


@pytest.fixture(scope="module", params=backend_params())
def shop_app(request, tmp_path_factory):
    """The render cache off, the front door on (personal requests never meet it)."""
    app = plugin_app(
        tmp_path_factory, request.param, ["flashsale", "groupbuy", "distribution"], MALLOW_PAGE_CACHE_ENTRIES=0
    )
    yield app
    dispose_app(app)


def now() -> datetime:
    return datetime.now(UTC)


class Shop:
    """A store with the flash sale and group buy on, a product, and a published home of a notice,
    a countdown (the next sale) and a group-buy list."""

    def __init__(self, app, blocks=()):
        self.app = app
        self.client = app.test_client()
        self.shop = make_store(app)
        for name in ("flashsale", "groupbuy", "distribution"):
            enable_plugin(app, self.shop, name)
        self.token = merchant_token(self.client, self.shop)
        self.skus = make_product(app, self.shop, title="临安山核桃", price=10000, stock=50)
        self.api = f"{self.shop.prefix}/api/console"
        self.publish(*blocks)
        # a guest with a cart cookie: personal requests, rendered every time
        self.guest = app.test_client()
        self.guest.set_cookie(f"mallow_cart_{self.shop.store_id}", "g" * 43)

    def publish(self, *blocks) -> None:
        sections = [
            ("n", "notice_bar", {"text": "欢迎光临"}),
            ("f", "flashsale_countdown", {"sale": 0}),
            ("g", "groupbuy_list", {"title": "限时拼团", "count": 4}),
            *blocks,
        ]
        document = {
            "sections": {i: {"type": t, "settings": s} for i, t, s in sections},
            "order": [i for i, *_ in sections],
        }
        saved = self.client.put(f"{self.api}/pages/home/draft", json={"document": document}, headers=self._auth())
        assert saved.status_code == 200, saved.get_json()
        assert self.client.post(f"{self.api}/pages/home/publish", headers=self._auth()).status_code == 201

    def _auth(self) -> dict:
        return bearer(self.token)

    def sale(self, title="整点秒杀", starts=None, ends=None, preheat=None) -> dict:
        body = {
            "title": title,
            "starts_at": (starts or now() - timedelta(minutes=1)).isoformat(),
            "ends_at": (ends or now() + timedelta(hours=1)).isoformat(),
            "preheat_at": preheat.isoformat() if preheat else None,
            "per_order_limit": 1,
            "per_shopper_limit": 1,
            "per_day_limit": 0,
            "published": True,
            "items": [{"sku_id": self.skus[0], "sale_price": 5000, "quota": 5}],
        }
        made = self.client.post(f"{self.api}/x/flashsale/sales", headers=self._auth(), json=body)
        assert made.status_code == 201, made.get_json()
        return made.get_json()

    def campaign(self, title="三人团", starts=None, ends=None) -> dict:
        from mallow.catalog.models import Sku
        from mallow.db import db
        from mallow.tenants.context import store_context

        with store_context(self.shop.store_id, app=self.app):
            product_id = db.session.get(Sku, self.skus[0]).product_id
        body = {
            "title": title,
            "product_id": product_id,
            "group_size": 3,
            "tiers": [{"size": 2, "percent": "95"}, {"size": 3, "percent": "90"}],
            "starts_at": (starts or now() - timedelta(minutes=5)).isoformat(),
            "ends_at": (ends or now() + timedelta(days=7)).isoformat(),
            "quota": 10,
        }
        made = self.client.post(f"{self.api}/x/groupbuy/campaigns", headers=self._auth(), json=body)
        assert made.status_code == 201, made.get_json()
        return made.get_json()

    def retitle(self, model, row_id: int, title: str) -> None:
        """A merchant's write through the ORM: its commit moves the store's stamp."""
        from mallow.db import db
        from mallow.tenants.context import store_context

        with store_context(self.shop.store_id, app=self.app):
            db.session.get(model, row_id).title = title
            db.session.commit()

    def home(self, client=None) -> str:
        response = (client or self.guest).get(f"{self.shop.prefix}/")
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    def counted_home(self) -> tuple[str, list[str]]:
        with statements() as seen:
            html = self.home()
        return html, seen


def _countdown(html: str) -> str:
    found = re.search(r'<div class="fs-block".*?</div>\s*</div>', html, re.S)
    return found.group(0) if found else ""


def _label(html: str) -> str:
    found = re.search(r'<span class="fs-label">(.*?)</span>', html, re.S)
    return found.group(1) if found else ""


def test_an_edited_sale_or_campaign_shows_on_the_next_render(shop_app):
    from mallow_flashsale.models import Sale
    from mallow_groupbuy.models import Campaign

    # given a running sale and campaign, shown by a home whose plugin blocks are kept
    shop = Shop(shop_app)
    sale, campaign = shop.sale(title="整点秒杀"), shop.campaign(title="三人团")
    first, _seen = shop.counted_home()
    again, seen = shop.counted_home()
    assert "整点秒杀" in _countdown(first) and "三人团" in first
    assert _countdown(again) == _countdown(first) and _plugin_statements(seen) == [], listing(seen)

    # when the merchant renames the sale, then the next render shows the new title
    shop.retitle(Sale, sale["id"], "午夜秒杀")
    html, seen = shop.counted_home()
    assert "午夜秒杀" in _countdown(html) and "整点秒杀" not in html
    assert any("flashsale_" in s for s in seen), listing(seen)

    # when the merchant renames the campaign, then the next render shows it too
    shop.retitle(Campaign, campaign["id"], "五人团")
    html = shop.home()
    assert "五人团" in html and "三人团" not in html


def test_blocks_of_other_settings_are_kept_apart(shop_app):
    # given two sales, and a home with a countdown of the next sale and one naming the later sale
    shop = Shop(shop_app)
    shop.sale(title="早场秒杀")
    later = shop.sale(title="晚场秒杀", starts=now() + timedelta(hours=2), ends=now() + timedelta(hours=3))
    shop.publish(("f2", "flashsale_countdown", {"sale": later["id"]}))

    # when the home is rendered twice
    first = shop.home()
    second, seen = shop.counted_home()

    # then each countdown shows its own sale, the second time from memory
    countdowns = re.findall(r'data-block-id="(f2?)".*?<h2 class="mp-title">(.*?)</h2>', first, re.S)
    assert countdowns == [("f", "早场秒杀"), ("f2", "晚场秒杀")], countdowns
    assert second == first and _plugin_statements(seen) == [], listing(seen)


def test_a_sale_that_starts_or_ends_shows_its_new_state_then(shop_app, monkeypatch):
    import mallow.edge.pages as edge_pages
    import mallow.plugin_host.blocks as plugin_blocks

    timing = sys.modules["mallow_flashsale.timing"]

    class Clock:
        """The plugin's clock, the block memory's and the front door's, moved together by the
        test (a busy machine's slow request is no expiry)."""

        def __init__(self):
            self.offset = 0.0

        def monotonic(self) -> float:
            return time.monotonic() + self.offset

        def time(self) -> float:
            return time.time() + self.offset

        def now(self) -> datetime:
            return datetime.now(UTC) + timedelta(seconds=self.offset)

    clock = Clock()
    monkeypatch.setattr(plugin_blocks, "time", clock)
    monkeypatch.setattr(edge_pages, "time", clock)
    monkeypatch.setattr(timing, "now", clock.now)

    # given a sale in preheat that starts in 45 s (the front door keeps pages 60 s)
    shop = Shop(shop_app)
    starts = now() + timedelta(seconds=45)
    shop.sale(title="整点秒杀", preheat=now() - timedelta(minutes=5), starts=starts, ends=starts + timedelta(hours=1))
    assert "开抢" in _label(shop.home())  # rendered: the block's data kept (45 s at most)

    # when a visitor's page is rendered with the block's data from memory, then kept by the front door
    visitor = shop_app.test_client()
    with statements() as seen:
        rendered = visitor.get(f"{shop.shop.prefix}/")
    assert "X-Mallow-Cache" not in rendered.headers and _plugin_statements(seen) == [], listing(seen)
    kept = visitor.get(f"{shop.shop.prefix}/")
    assert kept.headers.get("X-Mallow-Cache") == "hit" and "开抢" in _label(kept.get_data(as_text=True))

    # when the sale has started: every page shows it live (the kept page was kept no longer than the data)
    clock.offset = 46
    live = visitor.get(f"{shop.shop.prefix}/")
    assert "X-Mallow-Cache" not in live.headers
    assert "结束" in _label(live.get_data(as_text=True))
    assert "结束" in _label(shop.home())

    # when it has ended: the countdown is gone
    clock.offset = 46 + 3600
    assert _countdown(shop.home()) == ""
    assert _countdown(visitor.get(f"{shop.shop.prefix}/").get_data(as_text=True)) == ""


def test_a_live_sale_that_sells_out_shows_it_within_half_a_minute(shop_app, monkeypatch):
    """Units are sold by conditional UPDATEs, which move no stamp: while a sale is live its
    countdown is kept 30 s at most, so "sold out" reaches the home page within that."""
    import sqlalchemy as sa

    import mallow.plugin_host.blocks as plugin_blocks
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_flashsale.models import SaleItem

    offset = {"s": 0.0}
    monkeypatch.setattr(
        plugin_blocks, "time", type("Clock", (), {"monotonic": staticmethod(lambda: time.monotonic() + offset["s"])})
    )
    # given a live sale whose countdown the home shows and keeps
    shop = Shop(shop_app)
    sale = shop.sale(title="整点秒杀")
    assert "fs-soldout" not in _countdown(shop.home())

    # when its last units go (an UPDATE, as a buy takes them: no stamp moves)
    with store_context(shop.shop.store_id, app=shop_app):
        db.session.execute(sa.update(SaleItem).where(SaleItem.sale_id == sale["id"]).values(remaining=0))
        db.session.commit()

    # then the home still shows the kept countdown for a while, and "sold out" after 30 s
    offset["s"] = 10
    assert "fs-soldout" not in _countdown(shop.home())
    offset["s"] = 31
    assert "fs-soldout" in _countdown(shop.home())


def test_a_campaign_that_ends_or_starts_leaves_or_joins_the_list_then(shop_app, monkeypatch):
    import mallow.plugin_host.blocks as plugin_blocks

    campaigns = sys.modules["mallow_groupbuy.campaigns"]

    class Clock:
        def __init__(self):
            self.offset = 0.0

        def monotonic(self) -> float:
            return time.monotonic() + self.offset

        def now(self) -> datetime:
            return datetime.now(UTC) + timedelta(seconds=self.offset)

    clock = Clock()
    monkeypatch.setattr(plugin_blocks, "time", clock)
    monkeypatch.setattr(campaigns, "now", clock.now)

    # given a campaign that ends in 45 s and one that starts then, and a home showing the first (kept)
    shop = Shop(shop_app)
    soon = now() + timedelta(seconds=45)
    shop.campaign(title="早班团", ends=soon)
    shop.campaign(title="晚班团", starts=soon, ends=soon + timedelta(days=1))
    html = shop.home()
    assert "早班团" in html and "晚班团" not in html
    again, seen = shop.counted_home()
    assert again == html and _plugin_statements(seen) == [], listing(seen)

    # when that moment has passed, then the list shows the campaign that started instead
    clock.offset = 46
    html = shop.home()
    assert "晚班团" in html and "早班团" not in html


def test_a_block_that_raised_is_not_kept(shop_app, monkeypatch):
    blocks_module = sys.modules["mallow_flashsale.blocks"]

    # given a running sale, and the countdown's resolver failing once
    shop = Shop(shop_app)
    shop.sale(title="整点秒杀")
    shown = blocks_module._shown_sale

    def broken(*args, **kwargs):
        raise RuntimeError("the sale could not be read")

    monkeypatch.setattr(blocks_module, "_shown_sale", broken)
    html = shop.home()
    assert _countdown(html) == "" and "欢迎光临" in html  # the block is left out, the page stays

    # when the resolver works again, then the next render calls it (nothing was kept) and shows the sale
    monkeypatch.setattr(blocks_module, "_shown_sale", shown)
    html, seen = shop.counted_home()
    assert "整点秒杀" in _countdown(html)
    assert any("flashsale_" in s for s in seen), listing(seen)


def test_a_block_whose_plugin_is_off_is_not_shown(shop_app):
    # given a kept countdown
    shop = Shop(shop_app)
    shop.sale(title="整点秒杀")
    assert "整点秒杀" in _countdown(shop.home())
    assert "整点秒杀" in _countdown(shop.home())

    # when the plugin is switched off, then the block is gone at once; back on, it is back
    disable_plugin(shop_app, shop.shop, "flashsale")
    html = shop.home()
    assert 'data-block-type="flashsale_countdown"' not in html and "整点秒杀" not in html
    enable_plugin(shop_app, shop.shop, "flashsale")
    assert "整点秒杀" in _countdown(shop.home())


def test_a_block_that_declared_nothing_is_resolved_on_every_render(shop_app, monkeypatch):
    distribution = sys.modules["mallow_distribution.blocks"]
    calls = []
    data = distribution._data

    def counted():
        calls.append(1)
        return data()

    monkeypatch.setattr(distribution, "_data", counted)

    # given a home with the distributor entry (its block declares no watches)
    shop = Shop(shop_app, blocks=[("d", "distribution_entry", {})])

    # when it is rendered twice, then the entry was resolved twice
    shop.home()
    shop.home()
    assert len(calls) == 2
