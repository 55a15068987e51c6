"""WeChat Pay Native (扫码支付) through ``payOrder`` and :func:`mallow.payments.paying.pay_order`, on
SQLite and PostgreSQL, against the fake WeChat Pay: a native attempt answers a ``weixin://`` code;
asking again while it is open gives the same code; switching scene closes the old attempt (at
WeChat Pay too) and opens a new one; the payer scans and pays, WeChat Pay's signed notification
completes the order exactly once (a replay changes nothing)."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.testing.payments import configure_wechatpay, place_order, post_notification, wechatpay_server
from mallow.testing import bearer, make_product, make_shopper, make_store
from tests.api.caller import Api


def _rows(app, shop, model, *where):
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        rows = db.session.execute(sa.select(model).where(*where).order_by(model.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _shop_with_wechat_pay(app, merchant, price=2590):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=price)
    configure_wechatpay(app, shop, merchant)
    return shop, sku


def test_a_native_attempt_is_reused_while_open_and_its_notification_pays_the_order_once(app, merchant):
    from mallow.orders.models import OrderEvent
    from mallow.payments.models import Payment, PaymentNotification

    shop, sku = _shop_with_wechat_pay(app, merchant)
    client = app.test_client()
    api = Api(client)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    with wechatpay_server(app, merchant) as server:
        # given a shopper at a desktop browser: the QR code's code
        started = api(
            "payOrder",
            store=shop.slug,
            token=token,
            order_id=order["id"],
            expect=200,
            json={"provider": "wechatpay", "scene": "native"},
        ).get_json()
        assert started["pay"]["kind"] == "native" and started["pay"]["url"].startswith("weixin://wxpay/bizpayurl?pr=")
        out_trade_no = started["payment"]["out_trade_no"]
        remote = server.order(out_trade_no)
        assert remote.trade_type == "NATIVE" and remote.code_url == started["pay"]["url"]
        assert remote.total_fen == order["total"] and remote.notify_url.endswith(
            f"/s/{shop.slug}/api/payments/wechatpay/notify"
        )
        # when asked again while the attempt is open: the same attempt, the same code
        again = api(
            "payOrder",
            store=shop.slug,
            token=token,
            order_id=order["id"],
            expect=200,
            json={"provider": "wechatpay", "scene": "native"},
        ).get_json()
        assert again["payment"]["out_trade_no"] == out_trade_no and again["pay"]["url"] == started["pay"]["url"]
        [attempt] = _rows(app, shop, Payment)
        assert attempt.status == "created" and attempt.payer_openid is None

        # then the payer scans and pays: WeChat Pay's notification completes the order
        delivered = []
        note = server.scan_and_pay(
            started["pay"]["url"], deliver=lambda n: delivered.append(post_notification(client, shop, "wechatpay", n))
        )
        assert delivered[0].status_code == 204, delivered[0].get_data(as_text=True)
        paid = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
        assert paid["status"] == "paid" and paid["test"] is False
        # a replay (WeChat Pay retries) is answered 204 and changes nothing
        assert post_notification(client, shop, "wechatpay", note).status_code == 204
        replayed = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
        assert replayed["timeline"] == paid["timeline"] and replayed["status"] == "paid"
        assert [
            e.kind for e in _rows(app, shop, OrderEvent, OrderEvent.order_id == order["id"], OrderEvent.kind == "paid")
        ] == ["paid"]
        [attempt] = _rows(app, shop, Payment)
        assert attempt.status == "paid" and attempt.transaction_id == server.order(out_trade_no).transaction_id
        assert [(n.accepted, n.reason) for n in _rows(app, shop, PaymentNotification)] == [
            (True, ""),
            (True, "duplicate"),
        ]
        # paid: nothing more to pay
        assert (
            api(
                "payOrder",
                store=shop.slug,
                token=token,
                order_id=order["id"],
                expect=409,
                json={"provider": "wechatpay", "scene": "native"},
            ).get_json()["error"]
            == "not_payable"
        )


def test_switching_scene_closes_the_open_attempt_and_never_reuses_its_number(app, merchant):
    from mallow.orders.models import OrderEvent
    from mallow.payments.models import Payment

    shop, sku = _shop_with_wechat_pay(app, merchant)
    client = app.test_client()
    api = Api(client)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    with wechatpay_server(app, merchant) as server:
        h5 = api(
            "payOrder",
            store=shop.slug,
            token=token,
            order_id=order["id"],
            expect=200,
            json={"provider": "wechatpay", "scene": "h5"},
        ).get_json()
        assert h5["pay"]["kind"] == "h5"
        # the same shopper moves to a desktop: a Native attempt of its own (WeChat Pay refuses one number in two scenes)
        native = api(
            "payOrder",
            store=shop.slug,
            token=token,
            order_id=order["id"],
            expect=200,
            json={"provider": "wechatpay", "scene": "native"},
        ).get_json()
        assert native["pay"]["kind"] == "native"
        assert native["payment"]["out_trade_no"] != h5["payment"]["out_trade_no"]
        assert server.order(h5["payment"]["out_trade_no"]).trade_state == "CLOSED"
        # back to the phone: H5 again, a third number, the Native code closed
        back = api(
            "payOrder",
            store=shop.slug,
            token=token,
            order_id=order["id"],
            expect=200,
            json={"provider": "wechatpay", "scene": "h5"},
        ).get_json()
        assert back["payment"]["out_trade_no"] not in (h5["payment"]["out_trade_no"], native["payment"]["out_trade_no"])
        assert server.order(native["payment"]["out_trade_no"]).trade_state == "CLOSED"
        assert [p.status for p in _rows(app, shop, Payment)] == ["closed", "closed", "created"]
        scenes = [
            e.detail.get("scene")
            for e in _rows(
                app, shop, OrderEvent, OrderEvent.order_id == order["id"], OrderEvent.kind == "payment_started"
            )
        ]
        assert scenes == ["h5", "native", "h5"]


def test_native_needs_no_openid_and_a_known_openid_does_not_turn_it_into_jsapi(app, merchant):
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.payments import paying
    from mallow.payments.models import Payment
    from mallow.tenants.context import store_context

    shop, sku = _shop_with_wechat_pay(app, merchant, price=100)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    with wechatpay_server(app, merchant) as server, store_context(shop.store_id, app=app):
        with app.test_request_context(f"{shop.prefix}/orders/{order['id']}/pay", base_url="https://mall.example.com"):
            customer = db.session.get(Customer, db.session.get(Order, order["id"]).customer_id)
            customer.wechat_openid = "o-linked-in-wechat-before"
            db.session.commit()
            payment, start = paying.pay_order(
                db.session.get(Order, order["id"]),
                "wechatpay",
                customer=customer,
                scene="native",
                client_ip="198.51.100.4",
            )
            assert start.kind == "native" and start.url == server.order(payment.out_trade_no).code_url
            assert db.session.get(Payment, payment.id).payer_openid is None
            assert server.order(payment.out_trade_no).trade_type == "NATIVE"
