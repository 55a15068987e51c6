"""The sandbox is a platform mode (``MALLOW_SANDBOX_PAYMENTS``, off unless the environment turns it
on) that a store may use only while it has no live provider. One check decides for every path that
starts or completes a sandbox payment: ``payOrder``, the cashier's *Pay*, the providers offered to
shoppers, the acceptance of a sandbox notification. And rejected notifications are counted, not
stored one row each."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mallow.testing.payments import (
    configure_wechatpay,
    pay_with_sandbox,
    pay_with_wechatpay,
    place_order,
    post_notification,
    wechatpay_server,
)
from mallow.testing.wechatpay import make_fake_merchant, payment_notification
from mallow.testing import bearer, csrf_token, login_merchant, make_product, make_shopper, make_store, merchant_token

EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module")
def merchant(rsa_keys):
    return make_fake_merchant(merchant_key=rsa_keys[0], platform_key=rsa_keys[1])


@contextmanager
def sandbox_setting(app, value: bool):
    """The platform setting, changed for the duration (the app is shared by the session)."""
    missing = object()
    saved = app.config.get("MALLOW_SANDBOX_PAYMENTS", missing)
    app.config["MALLOW_SANDBOX_PAYMENTS"] = value
    try:
        yield
    finally:
        if saved is missing:
            app.config.pop("MALLOW_SANDBOX_PAYMENTS", None)
        else:
            app.config["MALLOW_SANDBOX_PAYMENTS"] = saved


def _unpaid_order(app, shop, price=990):
    [sku] = make_product(app, shop, price=price, stock=5)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    return client, token, place_order(client, shop, token, address, sku)


def _pay_sandbox(client, shop, token, order_id):
    return client.post(
        f"{shop.prefix}/api/orders/{order_id}/pay", headers=bearer(token) | EN, json={"provider": "sandbox"}
    )


def _status(client, shop, token, order_id) -> str:
    return client.get(f"{shop.prefix}/api/orders/{order_id}", headers=bearer(token)).get_json()["status"]


def _in_store(app, shop, func):
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return func()


def _sandbox_notification(app, shop, out_trade_no: str):
    """The notification the sandbox signs when Pay is pressed (with the store's own secret)."""
    from mallow.db import db
    from mallow.payments.models import Payment
    from mallow.payments.sandbox import SandboxProvider
    from mallow.tenants.models import Store

    def sign():
        payment = db.session.execute(sa.select(Payment).where(Payment.out_trade_no == out_trade_no)).scalar_one()
        return SandboxProvider(db.session.get(Store, shop.store_id)).payment_notification(payment)

    return _in_store(app, shop, sign)


def _sandbox_state(app, shop):
    """(why the sandbox is not available or None, whether the registry builds it for the store)."""
    from mallow.payments import providers, sandbox

    def read():
        try:
            providers.get(sandbox.NAME)
            offered = True
        except providers.ProviderUnavailable:
            offered = False
        return sandbox.availability(), offered

    return _in_store(app, shop, read)


def _console_payments_page(app, shop) -> str:
    browser = app.test_client()
    login_merchant(browser, shop)
    return browser.get(f"{shop.prefix}/console/payments/?lang=en").get_data(as_text=True)


def test_the_setting_is_off_unless_the_environment_turns_it_on(monkeypatch, tmp_path):
    from mallow.config import from_environment

    monkeypatch.delenv("MALLOW_SANDBOX_PAYMENTS", raising=False)
    assert from_environment({"MALLOW_DATA_DIR": str(tmp_path)})["MALLOW_SANDBOX_PAYMENTS"] is False
    for value, expected in (("1", True), ("true", True), ("on", True), ("0", False), ("", False), ("no", False)):
        monkeypatch.setenv("MALLOW_SANDBOX_PAYMENTS", value)
        assert from_environment({"MALLOW_DATA_DIR": str(tmp_path)})["MALLOW_SANDBOX_PAYMENTS"] is expected, value


def test_a_store_with_wechatpay_refuses_the_sandbox(app, merchant):
    # given: a store that configured WeChat Pay and never touched the sandbox
    shop = make_store(app)
    configure_wechatpay(app, shop, merchant)
    client, token, order = _unpaid_order(app, shop)
    # then: payOrder refuses provider=sandbox, saying why
    refused = _pay_sandbox(client, shop, token, order["id"])
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["error"] == "provider_unavailable"
    assert "WeChat Pay" in refused.get_json()["message"] and "sandbox" in refused.get_json()["message"]
    # nor is it offered to shoppers, and the owner is told why
    assert _sandbox_state(app, shop) == ("store_live", False)
    page = _console_payments_page(app, shop)
    assert 'data-reason="store_live"' in page and 'id="sandbox-on"' not in page and 'id="sandbox-off"' not in page
    assert _status(client, shop, token, order["id"]) == "pending_payment"

    # WeChat Pay turned off: the store has no live provider, the sandbox is back
    mtoken = merchant_token(app.test_client(), shop)
    off = client.put(f"{shop.prefix}/api/console/payments/wechatpay", headers=bearer(mtoken), json={"enabled": False})
    assert off.status_code == 200 and off.get_json()["enabled"] is False
    assert _sandbox_state(app, shop) == (None, True)
    assert _pay_sandbox(client, shop, token, order["id"]).status_code == 200


def test_with_the_platform_setting_off_nothing_takes_the_sandbox(app):
    shop = make_store(app)
    client, token, order = _unpaid_order(app, shop)
    started = _pay_sandbox(client, shop, token, order["id"])  # while the platform allowed it
    assert started.status_code == 200
    cashier = started.get_json()["pay"]["url"]
    out_trade_no = started.get_json()["payment"]["out_trade_no"]
    form = {"action": "pay", "token": cashier.split("token=")[1], "csrf_token": csrf_token(client, cashier)}
    with sandbox_setting(app, False):
        refused = _pay_sandbox(client, shop, token, order["id"])
        assert refused.status_code == 422 and "turned off on this platform" in refused.get_json()["message"]
        assert _sandbox_state(app, shop) == ("platform_off", False)
        page = client.get(cashier + "&lang=en")
        assert 'id="unavailable"' in page.get_data(as_text=True) and 'id="pay"' not in page.get_data(as_text=True)
        pressed = client.post(cashier, data=form)
        assert pressed.status_code == 403 and 'id="unavailable"' in pressed.get_data(as_text=True)
        body, headers = _sandbox_notification(app, shop, out_trade_no)
        notified = client.post(f"{shop.prefix}/api/payments/sandbox/notify", data=body, headers=headers)
        assert notified.status_code == 404 and notified.get_json() == {
            "code": "FAIL",
            "message": "provider_unavailable",
        }
        assert 'data-reason="platform_off"' in _console_payments_page(app, shop)
        assert _status(client, shop, token, order["id"]) == "pending_payment"
    # the same signed notification, once the platform allows the sandbox again: it pays
    assert client.post(f"{shop.prefix}/api/payments/sandbox/notify", data=body, headers=headers).status_code == 204
    assert _status(client, shop, token, order["id"]) == "paid"


def test_a_sandbox_payment_started_before_wechatpay_cannot_complete_after(app, merchant):
    shop = make_store(app)
    client, token, order = _unpaid_order(app, shop)
    started = _pay_sandbox(client, shop, token, order["id"])
    assert started.status_code == 200
    cashier = started.get_json()["pay"]["url"]
    out_trade_no = started.get_json()["payment"]["out_trade_no"]
    body, headers = _sandbox_notification(app, shop, out_trade_no)  # signed while allowed
    form = {"action": "pay", "token": cashier.split("token=")[1], "csrf_token": csrf_token(client, cashier)}

    configure_wechatpay(app, shop, merchant)  # the store goes live
    pressed = client.post(cashier, data=form)
    assert pressed.status_code == 403 and 'id="unavailable"' in pressed.get_data(as_text=True)
    notified = client.post(f"{shop.prefix}/api/payments/sandbox/notify", data=body, headers=headers)
    assert notified.status_code == 404
    assert _status(client, shop, token, order["id"]) == "pending_payment"

    # the shopper pays for real instead: a real order
    with wechatpay_server(app, merchant) as server:
        pay_with_wechatpay(client, shop, token, order["id"], server)
    paid = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert paid["status"] == "paid" and paid["test"] is False


def test_a_test_order_can_still_be_refunded_after_the_store_went_live(app, merchant):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.payments import refunds

    shop = make_store(app)
    client, token, order = _unpaid_order(app, shop)
    pay_with_sandbox(client, shop, token, order["id"])
    configure_wechatpay(app, shop, merchant)

    def refund():
        row = refunds.refund(db.session.get(Order, order["id"]), order["total"], "测试单退款", "staff:1")
        return row.status

    assert _in_store(app, shop, refund) == "succeeded"  # no money moves: the sandbox gives it back at once
    closed = client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()
    assert closed["status"] == "closed" and closed["test"] is True


def _notification_rows(app, shop):
    from mallow.db import db
    from mallow.payments.models import PaymentNotification

    return _in_store(
        app,
        shop,
        lambda: [
            (n.accepted, n.reason, n.count)
            for n in db.session.execute(sa.select(PaymentNotification).order_by(PaymentNotification.id)).scalars()
        ],
    )


def test_a_flood_of_forged_notifications_is_counted_not_stored_row_by_row(app, merchant):
    from mallow.db import db
    from mallow.payments.models import PaymentNotification

    shop = make_store(app)
    configure_wechatpay(app, shop, merchant)
    client = app.test_client()
    genuine = payment_notification(merchant, "NOSUCHORDER0001", 100)
    forged = genuine.headers | {"Wechatpay-Signature": genuine.headers["Wechatpay-Signature"][::-1]}
    # when: 100 notifications with a bad signature arrive
    for _ in range(100):
        answer = client.post(
            f"{shop.prefix}/api/payments/wechatpay/notify",
            data=genuine.body,
            headers=forged,
            content_type="application/json",
        )
        assert answer.status_code == 401 and answer.get_json()["message"] == "bad_signature"
    # then: one row counts them all
    assert _notification_rows(app, shop) == [(False, "bad_signature", 100)]

    # a rejection for another reason is its own row; after the window a new row starts
    assert post_notification(client, shop, "wechatpay", genuine).status_code == 400  # unknown order: wrong_order

    def age():  # an hour passes
        for row in db.session.execute(sa.select(PaymentNotification)).scalars():
            row.received_at = row.received_at - timedelta(hours=1)
        db.session.commit()

    _in_store(app, shop, age)
    client.post(
        f"{shop.prefix}/api/payments/wechatpay/notify",
        data=genuine.body,
        headers=forged,
        content_type="application/json",
    )
    rows = _notification_rows(app, shop)
    assert rows == [(False, "bad_signature", 100), (False, "wrong_order", 1), (False, "bad_signature", 1)]
    assert sum(count for _accepted, _reason, count in rows) == 102


def test_accepted_notifications_are_each_recorded(app, merchant):
    shop = make_store(app)
    configure_wechatpay(app, shop, merchant)
    client, token, order = _unpaid_order(app, shop)
    with wechatpay_server(app, merchant) as server:
        paid = pay_with_wechatpay(client, shop, token, order["id"], server)
        again = server.payment_notification(paid["payment"]["out_trade_no"])
        for _ in range(2):  # replays: accepted, each its own row
            assert post_notification(client, shop, "wechatpay", again).status_code == 204
    assert _notification_rows(app, shop) == [(True, "", 1), (True, "duplicate", 1), (True, "duplicate", 1)]
