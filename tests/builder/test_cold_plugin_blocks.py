"""A plugin's block on a cold page costs what its data costs once, not once per row: the group-buy
list reads the live campaigns, the next start and every campaign's product, picture and prices
in one statement, however many campaigns it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    make_product,
    make_store,
    merchant_token,
    plugin_app,
)
from mallow.testing.sql import listing, statements

COLD = {"MALLOW_PAGE_CACHE_ENTRIES": 0, "MALLOW_EDGE_CACHE_ENTRIES": 0, "MALLOW_BLOCK_CACHE_ENTRIES": 0}
#: the page row, the live campaigns, the next start, every campaign's product with its prices
COLD_GROUPBUY_HOME = 4


@pytest.fixture(scope="module", params=backend_params())
def gb_cold_app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["groupbuy"], **COLD)
    yield app
    dispose_app(app)


def _campaign(client, shop, token, skus, title, **values):
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=client.application):
        product_id = db.session.get(Sku, skus[0]).product_id
    now = datetime.now(UTC)
    body = {
        "title": title,
        "product_id": product_id,
        "group_size": 3,
        "tiers": [{"size": 2, "percent": "95"}, {"size": 3, "percent": "90"}],
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(days=7)).isoformat(),
        "quota": 10,
    } | values
    made = client.post(f"{shop.prefix}/api/console/x/groupbuy/campaigns", headers=bearer(token), json=body)
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def test_the_group_buy_list_costs_the_same_for_one_campaign_or_four(gb_cold_app):
    client = gb_cold_app.test_client()
    shop = make_store(gb_cold_app)
    enable_plugin(gb_cold_app, shop, "groupbuy")
    token = merchant_token(client, shop)
    home = {
        "sections": {"g": {"type": "groupbuy_list", "settings": {"title": "限时拼团", "count": 4}}},
        "order": ["g"],
    }
    api = f"{shop.prefix}/api/console"
    assert client.put(f"{api}/pages/home/draft", json={"document": home}, headers=bearer(token)).status_code == 200
    assert client.post(f"{api}/pages/home/publish", headers=bearer(token)).status_code == 201
    first = make_product(gb_cold_app, shop, title="山核桃", price=10000, stock=10)
    _campaign(client, shop, token, first, "一号团")

    def cold_home():
        client.get(f"{shop.prefix}/")
        with statements() as seen:
            html = client.get(f"{shop.prefix}/").get_data(as_text=True)
        return html, seen

    html, seen = cold_home()
    assert "一号团" in html and "90.00" in html
    assert len(seen) == COLD_GROUPBUY_HOME, listing(seen)

    two = make_product(
        gb_cold_app,
        shop,
        title="笋干",
        skus=[
            {"spec_values": {"规格": "大"}, "spec_key": "大", "price": 3000, "stock": 20},
            {"spec_values": {"规格": "小"}, "spec_key": "小", "price": 2000, "stock": 20},
        ],
    )
    _campaign(client, shop, token, two, "二号团", sku_ids=[two[0]])  # the dearer option only
    _campaign(client, shop, token, two, "三号团")
    hidden = make_product(gb_cold_app, shop, title="下架的茶", price=500, stock=20)
    _campaign(client, shop, token, hidden, "四号团")
    from mallow.catalog.models import Product, Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=gb_cold_app):
        product = db.session.get(Product, db.session.get(Sku, hidden[0]).product_id)
        product.status = "off_shelf"
        db.session.commit()

    html, seen = cold_home()
    assert len(seen) == COLD_GROUPBUY_HOME, listing(seen)
    assert "一号团" in html and "二号团" in html and "三号团" in html and "四号团" not in html
    block = html.split("二号团", 1)[1].split("三号团", 1)[0]
    assert "27.00" in block and "30.00" in block  # 90 % of the covered option's ¥30
    assert "18.00" in html.split("三号团", 1)[1]  # every option: 90 % of the cheapest, ¥20
