"""The coupon pages a shopper uses (test client, both backends): the claim centre (a POST form with
CSRF, and the JSON answer coupons.js reads), the product page's 领券 row, 我的 → 优惠券, and the
checkout that pre-selects the best coupon, lists the others (unusable ones with why), re-prices
when another is chosen or none, and places the order with the one shown. New members receive the
auto-issued coupons; a shopper signing in again gets nothing."""

from __future__ import annotations

import html as htmllib
import re

from mallow.testing import PASSWORD, csrf_token, make_product, make_store, post_form, register_shopper

from .conftest import create_coupon

NEW_ADDRESS = {
    "address_id": "new",
    "recipient": "王五",
    "phone": "13700001111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "余杭区",
    "detail": "文一西路 969 号",
}


def _html(response) -> str:
    return response.get_data(as_text=True)


def _hidden(page: str) -> dict[str, str]:
    return {
        name: htmllib.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    }


def _product_id(app, shop, sku_id) -> int:
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.get(Sku, sku_id).product_id


def _claim_form(client, shop, coupon_id, page=None):
    """Claim as the page's form does: its CSRF token and its ``next`` (back to that page)."""
    page = page or f"{shop.prefix}/coupons"
    return post_form(client, f"{shop.prefix}/coupons/{coupon_id}/claim", {"next": page}, form_path=page)


def _shop(app):
    client = app.test_client()
    shop = make_store(app)
    [sku] = make_product(app, shop, price=6000)
    [other] = make_product(app, shop, price=3000)
    return client, shop, sku, other


def _totals(page: str) -> int:
    return int(re.search(r'id="receipt" data-total="(-?\d+)"', page).group(1))


def _add(client, app, shop, sku_id, quantity):
    response = post_form(
        client,
        f"{shop.prefix}/cart/items",
        {"sku_id": sku_id, "quantity": quantity},
        form_path=f"{shop.prefix}/products/{_product_id(app, shop, sku_id)}",
    )
    assert response.status_code == 303


def test_the_claim_centre_claims_with_csrf_and_answers_json(app):
    client, shop, sku, _other = _shop(app)
    coupon = create_coupon(client, shop, name="满100减10", total_quantity=1)
    create_coupon(client, shop, name="草稿券", status="draft")
    guest = _html(client.get(f"{shop.prefix}/coupons"))
    assert "满100减10" in guest and "草稿券" not in guest
    assert "满¥100.00减¥10.00" in guest and "立即领取" in guest

    # without the CSRF token the claim is refused; a guest is sent to sign in
    register_shopper(client, shop)
    assert client.post(f"{shop.prefix}/coupons/{coupon['id']}/claim").status_code == 400
    claimed = _claim_form(client, shop, coupon["id"])
    assert claimed.status_code == 303 and claimed.headers["Location"].endswith("/coupons")
    page = _html(client.get(f"{shop.prefix}/coupons"))
    assert "已领取" in page and "领取成功" in page

    # a second shopper: the only one is gone (JSON for coupons.js)
    other = app.test_client()
    register_shopper(other, shop)
    assert "已领完" in _html(other.get(f"{shop.prefix}/coupons"))  # all claimed: shown as gone
    token = csrf_token(other, f"{shop.prefix}/account")
    answer = other.post(
        f"{shop.prefix}/coupons/{coupon['id']}/claim",
        data={"csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 409 and answer.get_json()["error"] == "sold_out"
    assert answer.get_json()["message"] == "优惠券已被领完。"

    mine = _html(client.get(f"{shop.prefix}/account/coupons"))
    assert "满100减10" in mine and "去使用" in mine
    assert "满100减10" not in _html(client.get(f"{shop.prefix}/account/coupons?tab=used"))
    assert 'id="entry-coupons"' in _html(client.get(f"{shop.prefix}/account"))


def test_the_product_page_offers_the_coupons_for_that_product(app):
    client, shop, sku, other = _shop(app)
    product, other_product = _product_id(app, shop, sku), _product_id(app, shop, other)
    assert 'id="coupon-row"' not in _html(client.get(f"{shop.prefix}/products/{product}"))  # kept for guests
    create_coupon(client, shop, name="全店券")
    create_coupon(client, shop, name="单品券", scope="products", scope_ids=[product])
    page = _html(client.get(f"{shop.prefix}/products/{product}"))
    assert 'id="coupon-row"' in page and "全店券" in page and "单品券" in page
    elsewhere = _html(client.get(f"{shop.prefix}/products/{other_product}"))
    assert "全店券" in elsewhere and "单品券" not in elsewhere

    register_shopper(client, shop)
    coupon_id = re.search(r'data-coupon-id="(\d+)"', _html(client.get(f"{shop.prefix}/products/{product}"))).group(1)
    claimed = _claim_form(client, shop, coupon_id, page=f"{shop.prefix}/products/{product}")
    assert claimed.status_code == 303 and claimed.headers["Location"].endswith(f"/products/{product}")
    again = _html(client.get(f"{shop.prefix}/products/{product}"))
    assert re.search(rf'data-coupon-id="{coupon_id}" data-state="claimed"', again)


def test_checkout_preselects_the_best_lists_the_rest_and_orders_with_the_choice(app):
    client, shop, sku, other = _shop(app)
    big = create_coupon(client, shop, name="满100减20", threshold_fen=10000, amount_fen=2000)
    small = create_coupon(client, shop, name="无门槛5元", kind="no_threshold", amount_fen=500)
    far = create_coupon(client, shop, name="满500减50", threshold_fen=50000, amount_fen=5000)
    elsewhere = create_coupon(
        client, shop, name="别的商品券", scope="products", scope_ids=[_product_id(app, shop, other)]
    )
    register_shopper(client, shop)
    for coupon in (big, small, far, elsewhere):
        assert _claim_form(client, shop, coupon["id"]).status_code == 303
    _add(client, app, shop, sku, 2)  # ¥120

    page = _html(client.get(f"{shop.prefix}/checkout"))
    assert _totals(page) == 12000 - 2000
    assert "优惠券：满100减20" in page  # the receipt's coupon line
    hidden = _hidden(page)
    best = hidden["coupon"]
    assert re.search(rf'value="{best}" class="cp-choice" data-holding-id="{best}" aria-pressed="true"', page)
    # the unusable ones, greyed with why
    assert "适用商品再买¥380.00即可使用。" in page
    assert "这些商品均不在该券适用范围内。" in page
    assert page.count('aria-disabled="true"') == 2

    # choose the ¥5 coupon: the page is priced again with it
    small_holding = re.search(
        r'value="(\d+)" class="cp-choice"[^>]*>\s*<span class="cp-stub"><strong class="cp-offer">无门槛减¥5.00', page
    ).group(1)
    chosen = client.post(f"{shop.prefix}/checkout", data=hidden | {"choose_coupon": small_holding})
    assert chosen.status_code == 200
    chosen_page = _html(chosen)
    assert _totals(chosen_page) == 12000 - 500 and _hidden(chosen_page)["coupon"] == small_holding
    # and by the query string, and none at all
    assert _totals(_html(client.get(f"{shop.prefix}/checkout?coupon=none"))) == 12000
    none = _html(client.post(f"{shop.prefix}/checkout", data=hidden | {"choose_coupon": "none"}))
    assert _totals(none) == 12000 and _hidden(none)["coupon"] == "none" and "优惠券：" not in none
    assert none.count('class="cp-choice"') == 2 and 'id="no-coupon" aria-pressed="true"' in none

    # place the order with the ¥5 coupon the page showed
    fields = _hidden(chosen_page) | NEW_ADDRESS | {"action": "place"}
    placed = client.post(f"{shop.prefix}/checkout", data=fields)
    assert placed.status_code == 303, _html(placed)[:800]
    order_path = placed.headers["Location"].replace("/pay", "")
    order_id = re.search(r"/orders/(\d+)", order_path).group(1)
    order_page = _html(client.get(f"{shop.prefix}/orders/{order_id}"))
    assert "优惠券：无门槛5元" in order_page and "-¥5.00" in order_page
    # the coupon is on the order: no longer in 可使用
    mine = _html(client.get(f"{shop.prefix}/account/coupons"))
    assert "无门槛5元" not in mine and "满100减20" in mine


def test_new_members_get_the_auto_issued_coupon_once(app):
    client, shop, _sku, _other = _shop(app)
    create_coupon(client, shop, name="新人券", kind="no_threshold", amount_fen=800, auto_issue="new_member")
    login = register_shopper(client, shop)
    assert "新人券" in _html(client.get(f"{shop.prefix}/account/coupons"))

    # signing in again (a new session) issues nothing more
    again = app.test_client()
    response = post_form(again, f"{shop.prefix}/login", {"login": login, "password": PASSWORD})
    assert response.status_code in (302, 303)
    page = _html(again.get(f"{shop.prefix}/account/coupons"))
    assert page.count('class="cp-card') == 1

    # one new member, one coupon
    from mallow.coupons.models import CustomerCoupon
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        assert db.session.query(CustomerCoupon).filter_by(source="new_member").count() == 1
