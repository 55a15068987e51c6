"""The bundled plugins' journeys through the demo store in real headless Chromium (Debian's) at
375×812 with a touch screen, in both themes (the store's theme switched through the console API),
in Chinese. Every page on the way fails the test on a console error, an HTTP answer ≥ 400 the
journey did not expect, a sideways scroll or a raw key in its text (:mod:`journey_kit`), and is
saved as ``docs/screenshots/journeys/<journey>-<step>-<theme>.png``:

* ``groupbuy``: someone opens a group (store API, sandbox); a new shopper opens its share link,
  taps 注册 (the password form: the SMS form is the account journeys'), comes back to the group,
  adds an address in the address book and comes back again, joins, pays in the cashier and lands
  on the group (已付款, invite action, member slots, countdown); the order reads 待成团 with
  labelled timeline entries; a third shopper joins through the API and the group completes.
* ``distribution``: the demo store takes WeChat Pay (a fake WeChat Pay server on 127.0.0.1: a
  real, not a test, order earns commission); a new shopper opens the demo distributor's link,
  buys with 立即购买, pays in the cashier (WeChat Pay H5: the fake's page is answered by the test,
  which pays and sends WeChat Pay's signed notification, then WeChat's redirect back); the order is
  shipped, confirmed and completed, the settlement window passes (the sweeps run with a clock
  moved forward); the distributor finds 分销中心 in 我的 and sees the commission there.
"""

from __future__ import annotations

import re
import sys
import uuid
from datetime import datetime, timedelta, UTC
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # journey_kit.py, beside this file (pytest's importlib mode)
from journey_kit import THEMES, Journey, new_shopper, pick_region, sign_up, translated  # noqa: E402

pytestmark = pytest.mark.browser


def _api(demo, method: str, path: str, token: str, body: dict | None = None, status: int = 200) -> dict:
    from mallow.testing import bearer

    response = getattr(demo.client(), method)(f"{demo.prefix}{path}", headers=bearer(token), json=body)
    assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[:400])
    return response.get_json()


def _campaign_sku(demo) -> int:
    """An option of the demo's group-buy campaign with stock to spare."""
    import sqlalchemy as sa

    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_groupbuy.models import Campaign

    with store_context(demo.ids["store"], app=demo.app):
        campaign = db.session.get(Campaign, demo.ids["campaign_id"])
        query = sa.select(Sku.id).where(Sku.product_id == campaign.product_id, Sku.stock > 5).order_by(Sku.id)
        if campaign.sku_ids:
            query = query.where(Sku.id.in_(campaign.sku_ids))
        return db.session.execute(query).scalars().first()


def _group_member(demo, sku: int, group_id: int | None) -> tuple[SimpleNamespace, dict]:
    """Another shopper opens (``group_id`` None) or joins a group through the store API and pays on
    the sandbox; returns the shopper and the paid order."""
    from mallow.testing.payments import pay_with_sandbox

    shopper = new_shopper(demo)
    order = _api(
        demo,
        "post",
        "/api/orders",
        shopper.token,
        {
            "items": [{"sku_id": sku, "quantity": 1}],
            "address_id": shopper.address_id,
            "options": {"groupbuy": {"campaign_id": demo.ids["campaign_id"], "group_id": group_id}},
        },
        201,
    )
    pay_with_sandbox(demo.client(), SimpleNamespace(prefix=demo.prefix), shopper.token, order["id"])
    return shopper, _api(demo, "get", f"/api/orders/{order['id']}", shopper.token)


def _group_of(order: dict) -> int:
    return next(
        e["detail"]["group_id"] for e in order["timeline"] if e["kind"] in ("groupbuy_opened", "groupbuy_joined")
    )


def _next_of(page, selector: str) -> str:
    href = page.locator(selector).get_attribute("href")
    return parse_qs(urlsplit(href).query)["next"][0]


def _add_address_in_the_address_book(journey: Journey) -> None:
    """The address book's form: recipient, mobile, 省/市/区 (the cascade fills the next level),
    street; 保存 goes back where ``next`` says."""
    page = journey.page
    page.locator("#f-recipient").fill("周小禾")
    page.locator("#f-phone").fill("13900001111")
    pick_region(page)
    page.locator("#f-detail").fill("锦北街道农林大路 88 号")
    journey.check("address")
    page.locator("#save-address").tap()


def _pay_on_the_sandbox(journey: Journey) -> int:
    """The cashier (收银台) → 确认支付 with the sandbox → Pay. Returns the order id."""
    page = journey.page
    page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
    order_id = int(re.search(r"/orders/(\d+)/pay$", page.url).group(1))
    journey.check("cashier")
    page.locator("#confirm-pay").tap()
    page.wait_for_url(re.compile(r"/pay/sandbox/"))
    page.locator("#pay").tap()
    return order_id


@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_a_new_shopper_joins_a_group_from_its_share_link_and_the_group_completes(demo, browser, theme):
    sku = _campaign_sku(demo)
    _leader, opened = _group_member(demo, sku, None)
    group_id = _group_of(opened)
    share = f"/x/groupbuy/g/{group_id}"

    with Journey(demo, browser, "groupbuy", theme=theme) as journey:
        page = journey.goto(share)
        assert page.locator("#gb-sign-in").count() == 1 and _next_of(page, "#gb-sign-up") == demo.prefix + share
        journey.check("share-link")
        page.locator("#gb-sign-up").tap()
        page.wait_for_url(re.compile(r"/register\?next="))
        journey.check("sign-up", screenshot=False)
        sign_up(journey, f"journey-{uuid.uuid4().hex[:10]}@example.com")
        page.wait_for_url(re.compile("^" + re.escape(journey.url(share)) + "$"))
        assert page.locator("#address-first").count() == 1  # signed in (the header too), no address yet
        journey.check("signed-up")
        page.locator("#gb-add-address").tap()
        page.wait_for_url(re.compile(r"/account/addresses/new\?next="))
        _add_address_in_the_address_book(journey)
        page.wait_for_url(re.compile("^" + re.escape(journey.url(share)) + "$"))
        assert page.locator("#join-form").count() == 1
        journey.check("join", full_page=True)

        page.locator('#join-form button[type="submit"]').tap()
        order_id = _pay_on_the_sandbox(journey)
        page.wait_for_url(
            re.compile("^" + re.escape(journey.url(share)) + r"\?paid=1$")
        )  # back to the group, not a dead end
        assert page.locator("#gb-paid").count() == 1 and page.locator("#gb-invite").count() == 1
        assert page.locator("#members [data-member-id]").count() == 2
        assert page.locator("#members .gb-empty").count() == 1  # one open seat, nobody invented
        assert page.locator("#group-progress .gb-countdown").count() == 1
        journey.check("paid", full_page=True)
        page.locator("#gb-invite").tap()  # copies the link (or shows it): no error either way
        journey.check("invite", screenshot=False)

        page.locator("#gb-my-order").tap()
        page.wait_for_url(re.compile(rf"/orders/{order_id}$"))
        assert page.locator("#status").inner_text() == translated(
            demo, "Waiting for the group", plugin="groupbuy"
        )  # 待成团
        text = journey.check("order", full_page=True)
        assert (
            translated(
                demo,
                "Joined the group (%(people)s)",
                plugin="groupbuy",
                people=translated(demo, "%(headcount)s of %(size)s people", plugin="groupbuy", headcount=2, size=3),
            )
            in text
        )

        _group_member(demo, sku, group_id)  # the third shopper: the group is complete
        page.goto(journey.url(share))
        assert page.locator("#groupbuy-group").get_attribute("data-state") == "succeeded"
        assert page.locator("#members [data-member-id]").count() == 3
        journey.check("complete", full_page=True)
        page.goto(journey.url(f"/orders/{order_id}"))
        assert page.locator("#status").inner_text() == "待发货"
        journey.check("order-complete", screenshot=False)


# --- distribution ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def takes_wechat_pay(demo):
    """From here on the demo store takes WeChat Pay (a fake server on 127.0.0.1): its orders are
    real ones, which earn commission (sandbox orders are test orders and earn nothing). The
    module's last tests use it; the sandbox is off for the store from then on."""
    from mallow.testing.payments import configure_wechatpay, wechatpay_server
    from mallow.testing.wechatpay import make_fake_merchant

    merchant = make_fake_merchant()
    with wechatpay_server(demo.app, merchant) as server:
        configure_wechatpay(demo.app, SimpleNamespace(store_id=demo.ids["store"]), merchant)
        yield server


def _answer_wechat_pay_h5(journey: Journey, server) -> None:
    """WeChat Pay's H5 page (off this site) answered by the test: the payer pays, WeChat Pay
    notifies the store (signed), and WeChat sends the payer back to ``redirect_url``."""
    import sqlalchemy as sa

    from mallow.db import db
    from mallow.payments.models import Payment
    from mallow.testing.payments import post_notification
    from mallow.tenants.context import store_context

    demo = journey.demo

    def pay(route):
        back = parse_qs(urlsplit(route.request.url).query)["redirect_url"][0]
        order_id = int(re.search(r"/orders/(\d+)/pay/result", back).group(1))
        with store_context(demo.ids["store"], app=demo.app):
            out_trade_no = db.session.execute(
                sa.select(Payment.out_trade_no)
                .where(Payment.order_id == order_id, Payment.provider == "wechatpay", Payment.status == "created")
                .order_by(Payment.id.desc())
                .limit(1)
            ).scalar_one()
        server.mark_paid(out_trade_no)
        notified = post_notification(
            demo.client(), SimpleNamespace(prefix=demo.prefix), "wechatpay", server.payment_notification(out_trade_no)
        )
        assert notified.status_code == 204, notified.get_data(as_text=True)
        route.fulfill(status=302, headers={"Location": back})

    journey.context.route(re.compile(r"^https://wx\.tenpay\.com/"), pay)


def _advance(demo, order_id: int, buyer_token: str) -> None:
    """The merchant ships, the buyer confirms receipt, the store completes the order and the
    after-sales window passes: the sweeps run with the clock moved on."""
    from mallow.jobs.registry import execute

    _api(
        demo,
        "post",
        f"/api/console/orders/{order_id}/ship",
        demo.merchant_token,
        {"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
    )
    assert _api(demo, "post", f"/api/orders/{order_id}/confirm", buyer_token, {})["status"] == "delivered"

    def settle(moment):
        execute(demo.app, "distribution.settle_store", {"store_id": demo.ids["store"], "now": moment.isoformat()})

    settle(datetime.now(UTC))  # delivered: frozen through the after-sales window
    later = datetime.now(UTC) + timedelta(days=30)
    execute(demo.app, "orders.sweep_store", {"store_id": demo.ids["store"], "now": later.isoformat()})
    assert _api(demo, "get", f"/api/orders/{order_id}", buyer_token)["status"] == "completed"
    settle(later)  # the window is over: withdrawable


def _commissions_of(demo, order_id: int) -> list[dict]:
    return _api(demo, "get", f"/api/console/x/distribution/commissions?order_id={order_id}", demo.merchant_token)[
        "commissions"
    ]


@pytest.mark.parametrize("theme", THEMES, indirect=True)
def test_a_referred_shopper_buys_and_the_distributor_sees_the_commission(demo, browser, theme, takes_wechat_pay):
    from journey_kit import session_cookie

    from mallow.demo import PASSWORD as DEMO_PASSWORD, SHOPPER_LOGIN

    code = demo.ids["code"]
    phone = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
        "Mobile Safari/537.36"
    )  # WeChat Pay H5 is for phones (a desktop browser gets the Native QR code)
    with Journey(demo, browser, "distribution", theme=theme, user_agent=phone) as journey:
        buyer = new_shopper(demo, journey)
        _answer_wechat_pay_h5(journey, takes_wechat_pay)
        page = journey.goto(f"/x/distribution/r/{code}")  # the distributor's link: bound, then home
        page.wait_for_url(re.compile(re.escape(demo.prefix) + r"/$"))
        journey.check("link")
        page = journey.goto(f"/products/{demo.ids['product_id']}")
        page.locator("#buy-bar .pd-buy").tap()
        page.locator("#sku-sheet .pd-buy").tap()
        page.wait_for_url(re.compile(r"/checkout"))
        journey.check("checkout")
        page.locator("#place-order").tap()
        page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
        order_id = int(re.search(r"/orders/(\d+)/pay$", page.url).group(1))
        journey.check("cashier")
        page.locator("#confirm-pay").tap()  # WeChat Pay (H5): out to WeChat Pay and back
        page.wait_for_url(re.compile(rf"/orders/{order_id}/pay/result"))
        page.wait_for_selector('#pay-result[data-outcome="paid"]')
        journey.check("paid")
        order = _api(demo, "get", f"/api/orders/{order_id}", buyer.token)
        assert order["status"] == "paid" and order["test"] is False
        [pending] = _commissions_of(demo, order_id)
        assert pending["status"] == "pending" and pending["net"] > 0

        _advance(demo, order_id, buyer.token)
        [settled] = _commissions_of(demo, order_id)
        assert settled["status"] == "settled", settled

    with Journey(demo, browser, "distribution-centre", theme=theme) as journey:
        journey.context.add_cookies([session_cookie(demo, SHOPPER_LOGIN, DEMO_PASSWORD)])
        page = journey.goto("/account")
        entry = page.locator(f'a[href="{demo.prefix}/x/distribution/"]')
        assert entry.count() == 1 and "分销中心" in entry.inner_text()  # an entry of 我的
        journey.check("account")
        entry.tap()
        page.wait_for_url(re.compile(r"/x/distribution/$"))
        assert page.locator("#referral-link").inner_text().endswith(f"/x/distribution/r/{code}")
        box = page.locator("#referral-link").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375  # the link wraps inside the phone
        withdrawable = page.locator("#withdrawable").inner_text()
        assert withdrawable != "¥0.00"
        journey.check("centre", full_page=True)
        page.locator('#distribution-nav a[href$="/earnings"]').tap()
        page.wait_for_url(re.compile(r"/x/distribution/earnings$"))
        row = page.locator(f'#commissions li[data-commission-id="{settled["id"]}"]')
        assert row.count() == 1 and f"¥{settled['net'] // 100}." in row.inner_text()
        assert "可提现" in row.inner_text()
        journey.check("earnings", full_page=True)
