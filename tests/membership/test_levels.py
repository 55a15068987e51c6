"""Member levels (会员等级): reached by completed spend or by points earned, up and down again on
refunds; the member price (a line price that competes with a flash-sale price: the best wins,
never both), free shipping (over the templates' fee), the birthday coupon once a year."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mallow.testing import backend_params, bearer, dispose_app, enable_plugin, make_store, merchant_token, plugin_app

from .conftest import Mall, adds_up, in_store


@pytest.fixture
def mall(app):
    return Mall(app, make_store(app), earn_per_yuan=1)


def test_levels_go_up_with_spend_and_down_with_a_refund(mall):
    silver = mall.level(name="银卡", threshold=10000, discount_percent=98)
    gold = mall.level(name="金卡", threshold=30000, discount_percent=95, free_shipping=True)
    buyer = mall.shopper()
    start = mall.membership(buyer)
    assert start["level"] is None and start["next_level"]["id"] == silver["id"] and start["to_next"] == 10000
    sku = mall.product(price=20000)
    first = mall.bought(buyer, sku)
    shown = mall.membership(buyer)
    assert shown["level"]["id"] == silver["id"] and shown["growth"] == 20000
    assert shown["next_level"]["id"] == gold["id"] and shown["to_next"] == 10000
    mall.bought(buyer, sku)  # ¥196 after the 98折: growth 39600
    assert mall.membership(buyer)["level"]["id"] == gold["id"]
    assert mall.refund(first, 20000) == "succeeded"  # the first order given back in full
    shown = mall.membership(buyer)
    assert shown["growth"] == 19600 and shown["level"]["id"] == silver["id"]


def test_levels_by_points_earned(mall):
    mall.program(level_basis="points", earn_per_yuan=2)
    vip = mall.level(name="VIP", threshold=300)
    buyer = mall.shopper()
    sku = mall.product(price=10000)
    mall.bought(buyer, sku)
    assert mall.membership(buyer)["growth"] == 200 and mall.membership(buyer)["level"] is None
    mall.bought(buyer, sku)
    shown = mall.membership(buyer)
    assert shown["growth"] == 400 and shown["level"]["id"] == vip["id"]
    mall.adjust(buyer, -400)  # spending points does not lower the level: earning raised it
    assert mall.membership(buyer)["level"]["id"] == vip["id"]


def test_a_new_level_or_a_deleted_one_moves_the_members(mall):
    buyer = mall.shopper()
    sku = mall.product(price=5000)
    mall.bought(buyer, sku)
    bronze = mall.level(name="铜卡", threshold=1000)
    assert mall.membership(buyer)["level"]["id"] == bronze["id"]
    mall.call("DELETE", f"{mall.console}/levels/{bronze['id']}", expect=204)
    assert mall.membership(buyer)["level"] is None


def test_the_member_price_is_a_line_discount_rounded_for_the_shopper(mall):
    mall.level(name="金卡", threshold=0, discount_percent=95)
    buyer = mall.shopper()
    mall.adjust(buyer, 1)  # a member row: every shopper is at least at the 0 threshold once they have one
    sku = mall.product(price=1999)
    quoted = mall.quote(buyer, [(sku, 3)])
    [line] = quoted["lines"]
    assert [(a["source"], a["amount"]) for a in line["adjustments"]] == [("membership", -(5997 * 5 // 100))]
    assert quoted["total"] == 5997 - 299 and adds_up(quoted)


def test_levels_give_nothing_while_the_programme_is_off(mall):
    mall.level(name="金卡", threshold=0, discount_percent=90, free_shipping=True)
    buyer = mall.shopper()
    mall.adjust(buyer, 1)
    sku = mall.product(price=1000)
    assert mall.quote(buyer, [(sku, 1)])["total"] == 900
    mall.program(enabled=False)
    assert mall.quote(buyer, [(sku, 1)])["total"] == 1000


def test_level_free_shipping_wins_over_the_templates(mall):
    from mallow.db import db
    from mallow.shipping.models import ShippingTemplate

    def template():
        row = ShippingTemplate(
            name="快递",
            mode="pieces",
            rules=[{"regions": ["浙江省"], "first": 1, "first_fee": 1000, "extra": 1, "extra_fee": 0}],
        )
        db.session.add(row)
        db.session.commit()
        return row.id

    template_id = in_store(mall.app, mall.shop, template)
    sku = mall.product(price=3000, shipping_template_id=template_id)
    guest_like = mall.shopper()
    assert mall.quote(guest_like, [(sku, 1)], province="浙江省")["total"] == 4000
    mall.level(name="包邮卡", threshold=0, free_shipping=True)
    member = mall.shopper()
    mall.adjust(member, 1)
    quoted = mall.quote(member, [(sku, 1)], province="浙江省")
    assert quoted["total"] == 3000 and not [a for a in quoted["adjustments"] if a["stage"] == "shipping"]
    # an address the templates cannot serve is still refused
    far = mall.quote(member, [(sku, 1)], province="西藏自治区")
    assert [p["code"] for p in far["problems"]] == ["not_deliverable"]


def test_the_birthday_coupon_comes_once_a_year(mall):
    from mallow.coupons.models import CustomerCoupon
    from mallow.db import db
    from mallow.membership import service

    now = datetime.now(UTC)
    coupon = mall.call(
        "POST",
        f"{mall.shop.prefix}/api/console/coupons",
        body={
            "name": "生日券",
            "kind": "no_threshold",
            "amount_fen": 1000,
            "total_quantity": 100,
            "per_shopper_limit": 1,  # the limit holds per year for a birthday coupon
            "validity": "days_after_claim",
            "valid_days": 30,
            "status": "active",
        },
        expect=201,
    )
    mall.level(name="生日会员", threshold=0, birthday_coupon_id=coupon["id"])
    buyer, other = mall.shopper(), mall.shopper()
    mall.adjust(buyer, 1)
    mall.adjust(other, 1)
    today = now.astimezone(service.LOCAL).date()
    born = date(1990, today.month, min(today.day, 28))
    mall.call("PUT", f"{mall.shop.prefix}/api/membership/birthday", buyer.token, {"birthday": born.isoformat()})
    changed = mall.call(
        "PUT", f"{mall.shop.prefix}/api/membership/birthday", buyer.token, {"birthday": "1991-01-01"}, expect=422
    )
    assert changed["fields"]["birthday"]["code"] == "locked"  # once only
    elsewhen = date(1990, today.month % 12 + 1, 1)  # another month
    mall.call("PUT", f"{mall.shop.prefix}/api/membership/birthday", other.token, {"birthday": elsewhen.isoformat()})
    birthday = datetime(today.year, born.month, born.day, 12, tzinfo=service.LOCAL)

    def run(moment):
        return in_store(mall.app, mall.shop, lambda: service.birthday_coupons(moment))

    def held(shopper):
        return in_store(
            mall.app,
            mall.shop,
            lambda: db.session.execute(
                db.select(db.func.count(CustomerCoupon.id)).where(CustomerCoupon.customer_id == shopper.id)
            ).scalar_one(),
        )

    assert run(birthday) == 1 and held(buyer) == 1
    assert run(birthday + timedelta(hours=1)) == 0 and held(buyer) == 1  # once this year
    assert held(other) == 0
    next_year = datetime(today.year + 1, born.month, born.day, 12, tzinfo=service.LOCAL)
    assert run(next_year) == 1 and held(buyer) == 2


# --- with the bundled flash sale --------------------------------------------------------------


@pytest.fixture(scope="module", params=backend_params())
def sale_app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, ["flashsale"])
    yield app
    dispose_app(app)


def _sale(mall, sku, sale_price):
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
    response = mall.client.post(
        f"{mall.shop.prefix}/api/console/x/flashsale/sales",
        headers=bearer(merchant_token(mall.client, mall.shop)),
        json=body,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_the_member_price_and_a_flash_sale_price_never_stack(sale_app):
    shop = make_store(sale_app)
    enable_plugin(sale_app, shop, "flashsale")
    mall = Mall(sale_app, shop)
    mall.level(name="金卡", threshold=0, discount_percent=90)
    buyer = mall.shopper()
    mall.adjust(buyer, 1)
    cheap_sale, small_sale = mall.product(price=10000), mall.product(price=10000)
    deep = _sale(mall, cheap_sale, 8000)  # ¥20 off beats the member's ¥10
    shallow = _sale(mall, small_sale, 9500)  # ¥5 off: the member's ¥10 wins

    def line_sources(quoted):
        return [(a["source"], a["amount"]) for a in quoted["lines"][0]["adjustments"]]

    quoted = mall.quote(buyer, [(cheap_sale, 1)], {"flashsale": {"sale_id": deep["id"]}})
    assert line_sources(quoted) == [("flashsale", -2000)] and quoted["total"] == 8000
    quoted = mall.quote(buyer, [(small_sale, 1)], {"flashsale": {"sale_id": shallow["id"]}})
    assert line_sources(quoted) == [("membership", -1000)] and quoted["total"] == 9000
    assert adds_up(quoted)
