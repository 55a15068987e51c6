"""The channels against real servers: e-mail to a local SMTP server (the message parsed), WeChat
subscribe messages to the fake WeChat API (token fetched once, the fields, a refused template
dies without a retry storm)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, UTC

import pytest
import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token
from mallow.testing.payments import configure_wechatpay, pay_with_sandbox, place_order
from mallow.testing.wechat_subscribe import wechat_subscribe_server
from mallow.testing.wechatpay import generate_rsa_key, make_fake_merchant

APPID, SECRET = "wx5subscribe00000001", "0123456789abcdef0123456789abcdef"
OPENID = "o-subscriber-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def wechat_merchant():
    return make_fake_merchant(appid=APPID, merchant_key=generate_rsa_key(), platform_key=generate_rsa_key())


def _deliver(app, shop, now=None):
    from mallow.jobs.registry import execute

    return execute(
        app, "notifications.deliver", {"store_id": shop.store_id} | ({"now": now.isoformat()} if now else {})
    )


def _deliveries(app, shop):
    from mallow.db import db
    from mallow.notifications.models import Delivery, Notification
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return [
            (event, d.channel, d.state, d.attempts, d.last_error)
            for d, event in db.session.execute(
                sa.select(Delivery, Notification.event).join(Notification).order_by(Delivery.id)
            ).all()
        ]


def _pay_and_ship(app, shop, order_id):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.orders.service import mark_paid, ship
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        order = db.session.get(Order, order_id)
        assert mark_paid(order, "test", {}, test=True)
        db.session.commit()
        ship(order, "staff:1", {"carrier": "中通快递", "tracking_number": f"ZT{order_id:06d}"})


def test_an_email_reaches_a_real_smtp_server_in_chinese(app, smtp, jobs):
    login = f"buyer{uuid.uuid4().hex[:8]}@example.com"
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃", price=2590)
    client = app.test_client()
    token, address = make_shopper(client, shop, login=login)
    order = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, order["id"])
    shipped = client.post(
        f"{shop.prefix}/api/console/orders/{order['id']}/ship",
        headers=bearer(merchant_token(client, shop)),
        json={"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
    )
    assert shipped.status_code == 200
    assert _deliver(app, shop)["sent"] == 2  # the staff's new-order e-mail and the shopper's
    [message] = smtp.to(login)
    assert message["Subject"] == "订单已发货"
    assert message["To"] == login and "notice@mallow.test" in message["From"]
    body = message.get_content()
    assert f"您的订单 {order['number']} 已发货，顺丰速运 运单号 SF1234567890。" in body
    assert message.get_content_charset() == "utf-8"


def test_a_wechat_subscribe_message_goes_to_the_fake_api_with_one_token(app, jobs, wechat_merchant):
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    shop = make_store(app)
    configure_wechatpay(app, shop, wechat_merchant, oauth_appsecret=SECRET)
    [sku] = make_product(app, shop, title="临安山核桃", price=1500)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    orders = [place_order(client, shop, token, address, sku) for _ in range(3)]
    with store_context(shop.store_id, app=app):
        customer = db.session.get(Customer, db.session.get(Order, orders[0]["id"]).customer_id)
        customer.wechat_openid = OPENID
        customer_id = customer.id
        db.session.commit()
    bad = client.post(
        f"{shop.prefix}/api/me/wechat-subscriptions",
        headers=bearer(token),
        json={"accepted": [{"event": "order_paid", "template_id": "TPL"}]},
    )
    assert bad.status_code == 422 and "accepted.0.event" in bad.get_json()["fields"]
    accepted = client.post(
        f"{shop.prefix}/api/me/wechat-subscriptions",
        headers=bearer(token),
        json={
            "accepted": [
                {"event": "order_shipped", "template_id": "TPL-SHIPPED"},
                {"event": "refund_done", "template_id": "TPL-REFUND"},
            ]
        },
    )
    assert accepted.get_json() == {"recorded": 2}

    with wechat_subscribe_server(app, APPID, SECRET) as wechat:
        wechat.accept(OPENID, "TPL-SHIPPED")  # the refund template was never accepted at WeChat
        for order in orders[:2]:  # paid (WeChat Pay is the store's, the payment is not what is tested) and shipped
            _pay_and_ship(app, shop, order["id"])
        _deliver(app, shop)
        [message] = wechat.messages
        assert message["touser"] == OPENID and message["template_id"] == "TPL-SHIPPED" and message["lang"] == "zh_CN"
        assert message["data"]["thing1"] == {"value": "订单已发货"}
        assert message["data"]["character_string3"] == {"value": orders[0]["number"]}
        assert len(message["data"]["thing2"]["value"]) <= 20
        # one acceptance, one message: the second shipment is not sent by WeChat
        assert [(e, c) for e, c, *_ in _deliveries(app, shop) if c == "wechat"] == [("order_shipped", "wechat")]

        # a template WeChat says the shopper refused: dead at once with the error, never retried
        with store_context(shop.store_id, app=app):
            from mallow.notifications.service import notify

            notify(
                "refund_done",
                "customer",
                [customer_id],
                "refund:test-1",
                {"number": orders[1]["number"], "amount": "15.00"},
            )
            db.session.commit()
        now = datetime.now(UTC)
        _deliver(app, shop, now)
        for later in (1, 5, 60):
            _deliver(app, shop, now + timedelta(hours=later))
        assert wechat.send_requests == 2  # the shipped one and one try of the refused one
        assert wechat.api_calls("token") == 1  # the access token is cached
        refused = [d for d in _deliveries(app, shop) if d[0] == "refund_done" and d[1] == "wechat"]
        assert refused == [("refund_done", "wechat", "dead", 1, "WeChat 43101: user refuse to accept the msg")]
