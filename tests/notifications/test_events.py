"""Each event reaches exactly the channels its recipient chose, once, and only after the
transaction that caused it commits (a rolled-back payment sends nothing; a job run twice sends
once)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa

from mallow.testing import bearer, make_product, make_shopper, make_store, merchant_token
from mallow.testing.payments import pay_with_sandbox, place_order


def _phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def _shop(app, *, login=None, stock=100):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃", price=1500, stock=stock)
    client = app.test_client()
    token, address = make_shopper(client, shop, login=login)
    return shop, client, token, address, sku


def _rows(app, shop, event=None):
    """``[(event, recipient kind, title, body, read, [(channel, state, attempts, error)])]``"""
    from mallow.db import db
    from mallow.notifications.models import Delivery, Notification
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        query = sa.select(Notification).order_by(Notification.id)
        if event:
            query = query.where(Notification.event == event)
        found = []
        for row in db.session.execute(query).scalars():
            deliveries = db.session.execute(
                sa.select(Delivery).where(Delivery.notification_id == row.id).order_by(Delivery.channel)
            ).scalars()
            found.append(
                (
                    row.event,
                    row.recipient_kind,
                    row.title,
                    row.body,
                    row.read_at is not None,
                    [(d.channel, d.state, d.attempts, d.last_error) for d in deliveries],
                )
            )
        return found


def _deliver(app, shop, now=None):
    from mallow.jobs.registry import execute

    return execute(
        app, "notifications.deliver", {"store_id": shop.store_id} | ({"now": now.isoformat()} if now else {})
    )


def _customer_id(app, shop, order_id):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.get(Order, order_id).customer_id


def _ship(client, shop, order_id, mtoken):
    shipped = client.post(
        f"{shop.prefix}/api/console/orders/{order_id}/ship",
        headers=bearer(mtoken),
        json={"carrier": "中通快递", "tracking_number": "ZT778899"},
    )
    assert shipped.status_code == 200, shipped.get_json()


def test_a_paid_order_tells_the_staff_by_message_and_email_once_after_the_commit(app, smtp, jobs, run_jobs):
    shop, client, token, address, sku = _shop(app)
    order = place_order(client, shop, token, address, sku, 2)
    assert _rows(app, shop, "order_paid") == []
    jobs.queued.clear()

    pay_with_sandbox(client, shop, token, order["id"])

    [paid] = _rows(app, shop, "order_paid")
    assert paid[:2] == ("order_paid", "staff") and paid[2] == "新订单已付款"
    assert order["number"] in paid[3] and "30.00" in paid[3]
    assert paid[5] == [("email", "pending", 0, None)]  # written with the payment, not sent in the request
    assert smtp.messages == []
    assert ("notifications.deliver", {"store_id": shop.store_id}) in jobs.queued  # queued after the commit

    run_jobs("notifications.deliver")
    _deliver(app, shop)  # a second run (a retried job, a second worker): nothing more
    [message] = smtp.messages
    assert message["To"] == shop.email and message["Subject"] == "新订单已付款"
    assert order["number"] in message.get_content() and "已付款" in message.get_content()
    assert _rows(app, shop, "order_paid")[0][5] == [("email", "sent", 1, None)]

    # The console shows it as an unread 站内信
    mtoken = merchant_token(client, shop)
    listed = client.get(f"{shop.prefix}/api/console/notifications", headers=bearer(mtoken)).get_json()
    assert listed["unread"] == 1 and listed["items"][0]["title"] == "新订单已付款"
    marked = client.post(
        f"{shop.prefix}/api/console/notifications/{listed['items'][0]['id']}/read", headers=bearer(mtoken)
    )
    assert marked.get_json() == {"id": listed["items"][0]["id"], "read": True, "unread": 0}


def test_a_rolled_back_payment_writes_and_queues_nothing(app, smtp, jobs):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.orders.service import mark_paid
    from mallow.tenants.context import store_context

    shop, client, token, address, sku = _shop(app)
    order = place_order(client, shop, token, address, sku)
    jobs.queued.clear()
    with store_context(shop.store_id, app=app):
        row = db.session.get(Order, order["id"])
        assert mark_paid(row, "test", {"note": "rolled back"}, test=True)
        db.session.flush()
        db.session.rollback()
    assert _rows(app, shop) == []
    assert [name for name, _kwargs in jobs.queued if name.startswith("notifications.")] == []
    assert _deliver(app, shop)["sent"] == 0 and smtp.messages == []


def test_an_event_undone_by_a_savepoint_rollback_tells_no_one(app, smtp, jobs):
    """A timeline entry flushed inside a savepoint (a plugin's guarded call) that is rolled back
    never happened: the commit that follows writes no notification for it, and the order's other
    work commits."""
    from mallow.db import db
    from mallow.orders.models import Order, OrderEvent
    from mallow.tenants.context import store_context

    shop, client, token, address, sku = _shop(app)
    order = place_order(client, shop, token, address, sku)
    jobs.queued.clear()
    with store_context(shop.store_id, app=app):
        row = db.session.get(Order, order["id"])
        row.merchant_note = "kept"
        savepoint = db.session.begin_nested()
        db.session.add(OrderEvent(order_id=row.id, kind="paid", actor="plugin:test", detail={}))
        db.session.flush()
        savepoint.rollback()
        db.session.commit()
        assert db.session.get(Order, order["id"]).merchant_note == "kept"
    assert _rows(app, shop) == []
    assert [name for name, _kwargs in jobs.queued if name.startswith("notifications.")] == []


def test_an_after_sales_request_tells_the_staff(app, smtp, jobs, run_jobs):
    shop, client, token, address, sku = _shop(app)
    order = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, order["id"])
    asked = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/aftersales",
        headers=bearer(token),
        json={"kind": "refund_only", "reason": "不想要了"},
    )
    assert asked.status_code == 201, asked.get_json()
    [request] = _rows(app, shop, "aftersale_requested")
    assert request[1] == "staff" and "不想要了" in request[3] and "15.00" in request[3]
    run_jobs("notifications.deliver")
    assert [m["Subject"] for m in smtp.messages] == ["新订单已付款", "新的售后申请"]


def test_shipped_and_refunded_reach_the_shopper_by_message_and_sms(app, jobs, run_jobs):
    from mallow.notifications.channels import sms_outbox

    phone = _phone()
    shop, client, token, address, sku = _shop(app, login=phone)
    order = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, order["id"])
    mtoken = merchant_token(client, shop)
    _ship(client, shop, order["id"], mtoken)

    [shipped] = _rows(app, shop, "order_shipped")
    assert shipped[:3] == ("order_shipped", "customer", "订单已发货")
    assert "ZT778899" in shipped[3] and shipped[5] == [("sms", "pending", 0, None)]  # no e-mail: a phone login
    run_jobs("notifications.deliver")
    run_jobs("notifications.deliver")
    [text] = sms_outbox(app).to(phone)
    assert text.startswith("【") and "ZT778899" in text and "已发货" in text

    asked = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/aftersales",
        headers=bearer(token),
        json={"kind": "refund_only", "reason": "不想要了"},
    )
    decided = client.post(
        f"{shop.prefix}/api/console/aftersales/{asked.get_json()['id']}/decision",
        headers=bearer(mtoken),
        json={"approve": True},
    )
    assert decided.status_code == 200, decided.get_json()
    run_jobs()  # the refund's own job, then the notification's
    [refund] = _rows(app, shop, "refund_done")
    assert refund[1] == "customer" and "15.00" in refund[3] and refund[5] == [("sms", "sent", 1, None)]
    assert len(sms_outbox(app).to(phone)) == 2
    # the shopper's 消息: both, unread
    listed = client.get(f"{shop.prefix}/api/me/notifications", headers=bearer(token)).get_json()
    assert [i["event"] for i in listed["items"]] == ["refund_done", "order_shipped"] and listed["unread"] == 2


def test_qualification_decisions_reach_the_stores_staff_after_the_review(app, smtp, jobs, run_jobs):
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db
    from mallow.merchants.signup import signup_merchant  # noqa: F401 -- make_store uses it
    from mallow.qualifications import service
    from mallow.qualifications.models import Qualification
    from mallow.testing import image_upload, qualification_form
    from mallow.tenants.models import Store
    from mallow.accounts.models import Merchant

    shop = make_store(app, approved=False)
    with app.test_request_context():
        store, merchant = db.session.get(Store, shop.store_id), db.session.get(Merchant, shop.merchant_id)
        qualification, _ = service.submit(store, merchant, qualification_form(), {"licence_image": image_upload()})
        admin = db.session.execute(sa.select(PlatformAdmin).limit(1)).scalar_one()
        service.reject(qualification, admin, "营业执照照片不清晰")
        db.session.remove()
    assert _rows(app, shop) == []  # the decision is the platform's; the store hears of it from a job
    run_jobs("notifications.qualification_decided")
    run_jobs("notifications.qualification_decided")
    [rejected] = _rows(app, shop, "qualification_rejected")
    assert rejected[1:3] == ("staff", "资质审核未通过") and "营业执照照片不清晰" in rejected[3]
    assert rejected[5] == [("email", "sent", 1, None)] and smtp.to(shop.email)[0]["Subject"] == "资质审核未通过"

    with app.test_request_context():
        store, merchant = db.session.get(Store, shop.store_id), db.session.get(Merchant, shop.merchant_id)
        qualification, _ = service.submit(store, merchant, qualification_form(), {"licence_image": image_upload()})
        admin = db.session.execute(sa.select(PlatformAdmin).limit(1)).scalar_one()
        service.approve(qualification, admin)
        approved_id = qualification.id
        db.session.remove()
    run_jobs("notifications.qualification_decided")
    [approved] = _rows(app, shop, "qualification_approved")
    assert approved[2] == "资质审核已通过" and approved[5] == [("email", "sent", 1, None)]
    # the sweep finds nothing missing (a lost job would have been made good there)
    from mallow.jobs.registry import execute

    execute(app, "notifications.sweep_store", {"store_id": shop.store_id})
    assert len(_rows(app, shop, "qualification_approved")) == 1 and len(smtp.messages) == 2
    with app.app_context():
        assert db.session.get(Qualification, approved_id).status == "approved"


def test_an_expiry_warning_and_low_stock_reach_the_staff_in_the_console_only_by_default(app, smtp, jobs, run_jobs):
    from mallow import notices
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop, client, token, address, sku = _shop(app, stock=51)
    with store_context(shop.store_id, app=app):
        notices.raise_notice(
            "qualification", "licence", "营业执照将于 2027-01-01 到期（还有 20 天）", {"document": "licence"}
        )
        db.session.commit()
        notices.raise_notice(
            "qualification", "licence", "营业执照将于 2027-01-01 到期（还有 19 天）", {"document": "licence"}
        )
        db.session.commit()  # the same open notice, updated: not a second notification
    [expiring] = _rows(app, shop, "qualification_expiring")
    assert (
        expiring[2] == "资质即将到期" and "2027-01-01" in expiring[3] and expiring[5] == [("email", "pending", 0, None)]
    )

    place_order(client, shop, token, address, sku, 2)  # 49 left, under the threshold (50)
    run_jobs("inventory.low_stock")
    [low] = _rows(app, shop, "low_stock")
    assert low[2] == "库存不足" and "临安山核桃" in low[3] and "49" in low[3]
    assert low[5] == []  # in-app only by default


def test_group_outcomes_from_the_sdk_and_an_expiring_coupon_reach_the_shopper_once(app, jobs, run_jobs):
    from mallow.db import db
    from mallow.notifications.channels import sms_outbox
    from mallow.notifications.service import notify_coupon_expiring
    from mallow.plugins.acting import acting_as
    from mallow.sdk.notifications import notify
    from mallow.tenants.context import store_context

    phone = _phone()
    shop, client, token, address, sku = _shop(app, login=phone)
    order = place_order(client, shop, token, address, sku)
    customer_id = _customer_id(app, shop, order["id"])
    with store_context(shop.store_id, app=app):
        with acting_as("groupbuy"):
            assert notify("group_succeeded", customer_id, key="group:7", title="临安山核桃 3 人团")
            assert not notify("group_succeeded", customer_id, key="group:7", title="临安山核桃 3 人团")
            assert notify("group_failed", customer_id, key="group:8", title="临安山核桃 3 人团")
        assert notify_coupon_expiring(
            customer_id, customer_coupon_id=3, name="满 100 减 10", expires_at=datetime(2027, 1, 5, tzinfo=UTC)
        )
        db.session.commit()
    rows = {row[0]: row for row in _rows(app, shop)}
    assert rows["group_succeeded"][2] == "拼团成功" and rows["group_succeeded"][5] == []  # no WeChat acceptance
    assert rows["group_failed"][5] == [("sms", "pending", 0, None)] and "原路退回" in rows["group_failed"][3]
    assert rows["coupon_expiring"][3] == "您的优惠券「满 100 减 10」将于 2027-01-05 过期。"
    assert rows["coupon_expiring"][5] == []  # a coupon is not worth an SMS unless the shopper asks
    run_jobs("notifications.deliver")
    assert len(sms_outbox(app).to(phone)) == 1


def test_preferences_are_respected_and_bad_ones_are_field_errors(app, smtp, jobs, run_jobs):
    from mallow.notifications.channels import sms_outbox

    phone = _phone()
    shop, client, token, address, sku = _shop(app, login=phone)
    mtoken = merchant_token(client, shop)
    bad = client.put(
        f"{shop.prefix}/api/console/notification-preferences",
        headers=bearer(mtoken),
        json={"events": {"order_paid": ["sms"]}},
    )
    assert bad.status_code == 422 and "events.order_paid" in bad.get_json()["fields"]
    assert (
        client.put(
            f"{shop.prefix}/api/console/notification-preferences", headers=bearer(mtoken), json={"language": "fr"}
        ).status_code
        == 422
    )
    saved = client.put(
        f"{shop.prefix}/api/console/notification-preferences",
        headers=bearer(mtoken),
        json={"language": "en", "events": {"order_paid": []}},
    )
    assert saved.status_code == 200
    paid_pref = next(e for e in saved.get_json()["events"] if e["event"] == "order_paid")
    assert paid_pref["channels"] == ["in_app"] and saved.get_json()["language"] == "en"
    got = client.put(
        f"{shop.prefix}/api/me/notification-preferences",
        headers=bearer(token),
        json={"events": {"order_shipped": ["in_app"], "coupon_expiring": ["sms"]}},
    )
    assert got.status_code == 200, got.get_json()

    order = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, order["id"])
    _ship(client, shop, order["id"], mtoken)
    run_jobs("notifications.deliver")
    [paid] = _rows(app, shop, "order_paid")
    assert paid[2] == "New paid order" and paid[5] == []  # English, and no e-mail
    [shipped] = _rows(app, shop, "order_shipped")
    assert shipped[5] == [] and sms_outbox(app).to(phone) == [] and smtp.messages == []
    assert client.get(f"{shop.prefix}/api/me/notification-preferences", headers=bearer(token)).get_json()["events"][
        -1
    ] == {
        "event": "coupon_expiring",
        "channels": ["in_app", "sms"],
        "allowed": ["in_app", "email", "sms", "wechat"],
        "defaults": ["in_app"],
    }


def test_a_failed_email_is_retried_with_backoff_then_sent_once(app, smtp, jobs):
    shop, client, token, address, sku = _shop(app)
    order = place_order(client, shop, token, address, sku)
    smtp.fail_next()
    pay_with_sandbox(client, shop, token, order["id"])
    now = datetime.now(UTC)
    assert _deliver(app, shop, now)["retrying"] == 1
    [paid] = _rows(app, shop, "order_paid")
    assert paid[5] == [("email", "retrying", 1, "SMTP 451")] and smtp.messages == []
    assert any(name == "notifications.deliver" for name, _kwargs in jobs.queued)  # queued again for later
    assert _deliver(app, shop, now + timedelta(seconds=10)) == {"sent": 0, "retrying": 0, "dead": 0, "skipped": 0}
    assert _deliver(app, shop, now + timedelta(seconds=31))["sent"] == 1
    assert _deliver(app, shop, now + timedelta(hours=2))["sent"] == 0
    assert len(smtp.messages) == 1 and _rows(app, shop, "order_paid")[0][5] == [("email", "sent", 2, None)]


def test_two_workers_racing_on_one_delivery_send_it_once(app, smtp, jobs):
    from mallow.notifications import delivery
    from mallow.notifications.models import Delivery
    from mallow.db import db
    from mallow.tenants.context import store_context

    shop, client, token, address, sku = _shop(app)
    order = place_order(client, shop, token, address, sku)
    pay_with_sandbox(client, shop, token, order["id"])
    now = datetime.now(UTC)
    with store_context(shop.store_id, app=app):
        [delivery_id] = db.session.execute(sa.select(Delivery.id)).scalars().all()
        assert delivery.claim(delivery_id, now) is True
        assert delivery.claim(delivery_id, now) is False  # the other worker lost
    assert _deliver(app, shop, now)["sent"] == 0  # claimed, not stale: nobody else sends it
    assert _deliver(app, shop, now + delivery.STALE_CLAIM + timedelta(seconds=1))["sent"] == 1  # a dead worker's claim
    assert len(smtp.messages) == 1
