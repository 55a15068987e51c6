"""Coupons with the bundled plugins: by default no coupon on flash-sale lines (allowed when the
coupon stacks with ``flashsale``); a group-buy line takes the coupon only when the coupon stacks
with ``groupbuy``; distribution's commission base is the price after the coupon (its
``paid_amounts`` shares the coupon out over the lines)."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest

from mallow.testing import backend_params, bearer, dispose_app, enable_plugin, make_product, make_shopper, make_store
from mallow.testing import merchant_token, plugin_app

from .conftest import claim, coupon_adjustments, create_coupon, in_store, order, quote


@pytest.fixture(scope="module", params=backend_params())
def mkt_app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["distribution", "flashsale", "groupbuy"])
    yield app
    dispose_app(app)


@pytest.fixture
def shop(mkt_app):
    shop = make_store(mkt_app)
    for name in ("distribution", "flashsale", "groupbuy"):
        enable_plugin(mkt_app, shop, name)
    return shop


def _sale(app, shop, sku, sale_price):
    client = app.test_client()
    now = datetime.now(UTC)
    body = {
        "title": "秒杀",
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "preheat_at": None,
        "per_order_limit": 5,
        "per_shopper_limit": 5,
        "per_day_limit": 0,
        "published": True,
        "items": [{"sku_id": sku, "sale_price": sale_price, "quota": 10}],
    }
    response = client.post(
        f"{shop.prefix}/api/console/x/flashsale/sales", headers=bearer(merchant_token(client, shop)), json=body
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_flash_sale_lines_take_no_coupon_unless_allowed(mkt_app, shop):
    client = mkt_app.test_client()
    token, _address = make_shopper(client, shop)
    [sku] = make_product(mkt_app, shop, price=10000)
    sale = _sale(mkt_app, shop, sku, 8000)
    default = claim(client, shop, token, create_coupon(client, shop, kind="no_threshold", amount_fen=500)["id"])
    allowed = claim(
        client,
        shop,
        token,
        create_coupon(client, shop, kind="no_threshold", amount_fen=300, stacks_with=["flashsale"])["id"],
    )
    flash = {"flashsale": {"sale_id": sale["id"]}}

    refused = quote(client, shop, token, [(sku, 1)], flash | {"coupon": default["id"]})
    assert refused["problems"][0]["code"] == "coupon_unusable"
    assert refused["problems"][0]["message"] == "不可用于秒杀商品。"
    ok = quote(client, shop, token, [(sku, 1)], flash | {"coupon": allowed["id"]})
    assert ok["problems"] == [] and coupon_adjustments(ok)[0][1] == -300
    assert ok["total"] == 8000 - 300  # the coupon comes off the sale price
    best = quote(client, shop, token, [(sku, 1)], flash)
    assert best["coupons"]["selected"] == allowed["id"]
    assert [c["reason"]["code"] for c in best["coupons"]["unusable"]] == ["campaign_lines"]
    # the same product outside the sale takes either: the bigger is pre-selected
    assert quote(client, shop, token, [(sku, 1)])["coupons"]["selected"] == default["id"]


def test_a_group_buy_order_takes_the_coupon_per_stacks_with(mkt_app, shop):
    from mallow.catalog.models import Sku
    from mallow.db import db

    client = mkt_app.test_client()
    token, address = make_shopper(client, shop)
    [sku] = make_product(mkt_app, shop, price=10000)
    product_id = in_store(mkt_app, shop, lambda: db.session.get(Sku, sku).product_id)
    now = datetime.now(UTC)
    response = client.post(
        f"{shop.prefix}/api/console/x/groupbuy/campaigns",
        headers=bearer(merchant_token(client, shop)),
        json={
            "title": "二人团",
            "product_id": product_id,
            "group_size": 2,
            "tiers": [{"size": 2, "percent": "90"}],
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
            "quota": 10,
        },
    )
    assert response.status_code == 201, response.get_json()
    group = {"groupbuy": {"campaign_id": response.get_json()["id"], "group_id": None}}
    refused = claim(client, shop, token, create_coupon(client, shop, kind="no_threshold", amount_fen=500)["id"])
    allowed = claim(
        client,
        shop,
        token,
        create_coupon(client, shop, kind="no_threshold", amount_fen=400, stacks_with=["groupbuy", "distribution"])[
            "id"
        ],
    )
    no = order(client, shop, token, address, [(sku, 1)], group | {"coupon": refused["id"]}, expect=422)
    assert no["problems"][0]["code"] == "coupon_unusable"
    yes = order(client, shop, token, address, [(sku, 1)], group | {"coupon": allowed["id"]})
    assert coupon_adjustments(yes)[0][1] == -400
    assert yes["total"] == 9000 - 400  # the group price, then the coupon


def test_distribution_commission_is_on_the_price_after_the_coupon(mkt_app, shop):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow_distribution.commission import paid_amounts

    client = mkt_app.test_client()
    token, address = make_shopper(client, shop)
    [a] = make_product(mkt_app, shop, price=6000)
    [b] = make_product(mkt_app, shop, price=4000)
    held = claim(client, shop, token, create_coupon(client, shop, threshold_fen=10000, amount_fen=1000)["id"])
    placed = order(client, shop, token, address, [(a, 1), (b, 1)], {"coupon": held["id"]})
    assert placed["total"] == 9000

    def shares():
        found = db.session.get(Order, placed["id"])
        return sorted(paid_amounts(found).values())

    # ¥10 shared out in proportion: 6000 → 5400, 4000 → 3600 (commission is a rate of these)
    assert in_store(mkt_app, shop, shares) == [3600, 5400]
