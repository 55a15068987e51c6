"""Refunds and the money reliability rules: a late payment for an order the unpaid timeout closed
is refunded automatically; a refund retried after a timeout keeps its ``out_refund_no``; refunds
never exceed what was paid, at most 50 per payment; lost notifications are made up for by queries."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest
import sqlalchemy as sa

from mallow.testing.payments import (
    configure_wechatpay,
    pay_with_sandbox,
    place_order,
    post_notification,
    wechatpay_server,
)
from mallow.testing.wechatpay import make_fake_merchant
from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token


@pytest.fixture(scope="module")
def merchant(rsa_keys):
    return make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])


def _in_store(app, shop, func):
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return func()


def _order(app, shop, order_id):
    from mallow.db import db
    from mallow.orders.models import Order

    def read():
        order = db.session.get(Order, order_id)
        return {
            "status": order.status,
            "total": order.total,
            "refunded_total": order.refunded_total,
            "events": [(e.kind, e.detail) for e in order.events],
            "deadline": order.pay_deadline,
        }

    return _in_store(app, shop, read)


def _refunds(app, shop):
    from mallow.db import db
    from mallow.payments.models import Refund

    return _in_store(
        app,
        shop,
        lambda: [
            {"id": r.id, "no": r.out_refund_no, "amount": r.amount, "status": r.status, "remote": r.provider_refund_id}
            for r in db.session.execute(sa.select(Refund).order_by(Refund.id)).scalars()
        ],
    )


def _stock(app, shop, sku):
    from mallow.orders.checkout import sku_stock

    return _in_store(app, shop, lambda: sku_stock(sku))


def _run(app, name, **kwargs):
    from mallow.jobs.registry import execute

    return execute(app, name, kwargs)


def _aware(moment):
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _wechat_order(app, server, merchant, *, price=2500, quantity=2, stock=5):
    shop = make_store(app)
    configure_wechatpay(app, shop, merchant)
    [sku] = make_product(app, shop, price=price, stock=stock)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku, quantity)
    pay = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "wechatpay"}
    )
    assert pay.status_code == 200, pay.get_json()
    return shop, client, token, sku, order, pay.get_json()["payment"]["out_trade_no"]


def test_late_payment_after_the_unpaid_timeout_is_refunded_automatically(app, merchant):
    from mallow.orders import service as orders

    with wechatpay_server(app, merchant) as server:
        shop, client, token, sku, order, out_trade_no = _wechat_order(app, server, merchant, quantity=1, stock=1)
        assert _stock(app, shop, sku) == 0
        deadline = _aware(_order(app, shop, order["id"])["deadline"])
        assert _in_store(app, shop, lambda: orders.sweep(deadline + timedelta(seconds=1)))["closed"] == 1
        assert _order(app, shop, order["id"])["status"] == "cancelled" and _stock(app, shop, sku) == 1
        # Someone else buys the unit that came back: the stock is gone.
        other_token, other_address = make_shopper(client, shop)
        place_order(client, shop, other_token, other_address, sku, 1)
        assert _stock(app, shop, sku) == 0

        # The shopper had paid at the last second; WeChat Pay's notification arrives now.
        server.mark_paid(out_trade_no)
        answer = post_notification(client, shop, "wechatpay", server.payment_notification(out_trade_no))
        assert answer.status_code == 204
        late = _order(app, shop, order["id"])
        assert late["status"] == "cancelled"  # never paid after cancellation, stock not taken twice
        assert "late_payment" in [kind for kind, _ in late["events"]]
        [refund] = _refunds(app, shop)
        assert refund["status"] == "processing" and refund["amount"] == order["total"] and refund["remote"] is None

        # The refund is sent by a job (the notification is answered at once).
        queued = [item for item in app.extensions["mallow.jobs"]._queue if item[2] == "payments.submit_refund"]
        assert {"store_id": shop.store_id, "refund_id": refund["id"]} in [item[3] for item in queued]
        assert _run(app, "payments.submit_refund", store_id=shop.store_id, refund_id=refund["id"]) == "processing"
        assert server.refund_record(refund["no"]).refund_fen == order["total"]
        server.complete_refund(refund["no"])
        assert post_notification(client, shop, "wechatpay", server.refund_notification(refund["no"])).status_code == 204
        [refund] = _refunds(app, shop)
        assert refund["status"] == "succeeded"
        done = _order(app, shop, order["id"])
        assert done["status"] == "cancelled" and done["refunded_total"] == 0  # the order itself was never paid
        assert _stock(app, shop, sku) == 0


def test_a_paid_order_is_never_cancelled_by_the_timeout(app, merchant):
    from mallow.orders import service as orders

    with wechatpay_server(app, merchant) as server:
        shop, client, token, sku, order, out_trade_no = _wechat_order(app, server, merchant)
        server.mark_paid(out_trade_no)
        assert (
            post_notification(client, shop, "wechatpay", server.payment_notification(out_trade_no)).status_code == 204
        )
        deadline = _aware(_order(app, shop, order["id"])["deadline"])
        assert _in_store(app, shop, lambda: orders.sweep(deadline + timedelta(minutes=5)))["closed"] == 0
        assert _order(app, shop, order["id"])["status"] == "paid"
        assert _stock(app, shop, sku) == 3


def test_refund_retried_after_a_timeout_reuses_its_number_and_never_exceeds_the_payment(app, merchant):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.payments import refunds as payment_refunds

    with wechatpay_server(app, merchant) as server:
        shop, client, token, sku, order, out_trade_no = _wechat_order(app, server, merchant)  # 5000 fen
        server.mark_paid(out_trade_no)
        assert (
            post_notification(client, shop, "wechatpay", server.payment_notification(out_trade_no)).status_code == 204
        )
        mtoken = merchant_token(client, shop)
        requested = client.post(
            f"{shop.prefix}/api/orders/{order['id']}/aftersales",
            headers=bearer(token),
            json={"kind": "refund_only", "reason": "少发了一件", "amount": 3000},
        ).get_json()
        assert requested["amount"] == 3000

        server.drop_next_responses(1)  # WeChat Pay makes the refund, the answer is lost
        decided = client.post(
            f"{shop.prefix}/api/console/aftersales/{requested['id']}/decision",
            headers=bearer(mtoken),
            json={"approve": True},
        )
        assert decided.status_code == 200
        [first] = _refunds(app, shop)
        assert first["status"] == "processing" and first["remote"] is None
        assert server.refund_record(first["no"]).refund_fen == 3000

        # While 3000 fen are promised, no more than 2000 can be asked for, by anyone.
        def refund(amount):
            return payment_refunds.refund(db.session.get(Order, order["id"]), amount, "test", "staff:test")

        with pytest.raises(payment_refunds.PaymentProblem) as too_much:
            _in_store(app, shop, lambda: refund(2001))
        assert too_much.value.code == "exceeds_paid"
        _in_store(app, shop, lambda: refund(2000))
        with pytest.raises(payment_refunds.PaymentProblem):
            _in_store(app, shop, lambda: refund(1))

        # The sweep sends the first refund again with the same out_refund_no: still one refund there.
        counts = _run(app, "payments.sweep_store", store_id=shop.store_id)
        assert counts["refunds_sent"] == 1
        refunds = _refunds(app, shop)
        assert [r["no"] for r in refunds] == [f"{out_trade_no}R01", f"{out_trade_no}R02"]
        assert all(r["remote"] for r in refunds)
        remote_order = server.order(out_trade_no)
        assert remote_order.refund_nos == [r["no"] for r in refunds]
        sent = [r for r in server.requests if r.method == "POST" and r.path == "/v3/refund/domestic/refunds"]
        assert len(sent) == 3  # R01, R01 again, R02
        assert sum(server.refund_record(no).refund_fen for no in remote_order.refund_nos) == order["total"]

        for refund_row in refunds:
            server.complete_refund(refund_row["no"])
            assert (
                post_notification(client, shop, "wechatpay", server.refund_notification(refund_row["no"])).status_code
                == 204
            )
        final = _order(app, shop, order["id"])
        assert final["status"] == "closed" and final["refunded_total"] == final["total"] == 5000
        # A refund notification replayed later changes nothing.
        assert (
            post_notification(client, shop, "wechatpay", server.refund_notification(refunds[0]["no"])).status_code
            == 204
        )
        assert _order(app, shop, order["id"])["refunded_total"] == 5000


def test_at_most_fifty_refunds_and_the_refunded_hook(app):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.payments import refunds as payment_refunds
    from mallow.plugins.hookspecs import hookimpl

    seen = []

    class Listener:
        @hookimpl
        def mallow_order_refunded(self, order, refund):
            seen.append((order.id, refund.amount, order.refunded_total))

    shop = make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, price=100, stock=60)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku, 51)
    pay_with_sandbox(client, shop, token, order["id"])
    manager = app.extensions["mallow.plugins"]
    listener = Listener()
    manager.register(listener, name="test-refund-listener")
    try:

        def refund(amount):
            return payment_refunds.refund(db.session.get(Order, order["id"]), amount, "partial", "staff:test").status

        assert [_in_store(app, shop, lambda: refund(1)) for _ in range(49)] == ["succeeded"] * 49
        assert _in_store(app, shop, lambda: refund(5100 - 49)) == "succeeded"
        with pytest.raises(payment_refunds.PaymentProblem) as fifty_first:
            _in_store(app, shop, lambda: refund(1))
        assert fifty_first.value.code == "too_many_refunds"
    finally:
        manager.unregister(listener)
    assert len(seen) == 50 and seen[-1] == (order["id"], 5051, 5100) and seen[0][2] == 1
    final = _order(app, shop, order["id"])
    assert final["status"] == "closed" and final["refunded_total"] == 5100
    assert sum(r["amount"] for r in _refunds(app, shop)) == 5100


def test_active_query_pays_when_the_notification_is_lost(app, merchant):
    with wechatpay_server(app, merchant) as server:
        shop, client, token, sku, order, out_trade_no = _wechat_order(app, server, merchant)
        server.mark_paid(out_trade_no)
        now = datetime.now(UTC)
        assert _run(app, "payments.sweep_store", store_id=shop.store_id, now=now.isoformat())["queried"] == 0
        counts = _run(app, "payments.sweep_store", store_id=shop.store_id, now=(now + timedelta(minutes=6)).isoformat())
        assert counts["queried"] == 1 and counts["paid"] == 1
        paid = _order(app, shop, order["id"])
        assert paid["status"] == "paid"
        [(kind, detail)] = [(k, d) for k, d in paid["events"] if k == "paid"]
        assert detail["via"] == "query" and detail["amount"] == order["total"]
        # The notification arriving afterwards is a replay.
        assert (
            post_notification(client, shop, "wechatpay", server.payment_notification(out_trade_no)).status_code == 204
        )
        assert len([k for k, _ in _order(app, shop, order["id"])["events"] if k == "paid"]) == 1


def test_abandoned_attempts_are_closed_and_refunds_completed_by_query(app, merchant):
    from mallow.db import db
    from mallow.orders import service as orders
    from mallow.payments.models import Payment

    with wechatpay_server(app, merchant) as server:
        shop, client, token, sku, order, out_trade_no = _wechat_order(app, server, merchant)
        deadline = _aware(_order(app, shop, order["id"])["deadline"])
        _in_store(app, shop, lambda: orders.sweep(deadline + timedelta(seconds=1)))
        counts = _run(
            app, "payments.sweep_store", store_id=shop.store_id, now=(deadline + timedelta(minutes=10)).isoformat()
        )
        assert counts["closed"] == 1
        assert server.order(out_trade_no).trade_state == "CLOSED"
        assert _in_store(app, shop, lambda: db.session.execute(sa.select(Payment.status)).scalar_one()) == "closed"

        # A refund whose result notification never comes is completed by a query.
        shop2, client2, token2, sku2, order2, out_trade_no2 = _wechat_order(app, server, merchant)
        server.mark_paid(out_trade_no2)
        post_notification(client2, shop2, "wechatpay", server.payment_notification(out_trade_no2))
        requested = client2.post(
            f"{shop2.prefix}/api/orders/{order2['id']}/aftersales",
            headers=bearer(token2),
            json={"kind": "refund_only", "reason": "拍错了"},
        ).get_json()
        client2.post(
            f"{shop2.prefix}/api/console/aftersales/{requested['id']}/decision",
            headers=bearer(merchant_token(client2, shop2)),
            json={"approve": True},
        )
        [refund] = _refunds(app, shop2)
        server.complete_refund(refund["no"])
        later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
        assert _run(app, "payments.sweep_store", store_id=shop2.store_id, now=later)["refunds_queried"] == 1
        assert _refunds(app, shop2)[0]["status"] == "succeeded"
        assert _order(app, shop2, order2["id"])["status"] == "closed"
        aftersale = client2.get(f"{shop2.prefix}/api/aftersales/{requested['id']}", headers=bearer(token2)).get_json()
        assert aftersale["status"] == "refunded"
