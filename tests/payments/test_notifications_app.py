"""Notifications through the app's notify URL: forgeries are rejected, logged and change nothing; a
valid one pays once; a replay (even ten at once) answers success and changes nothing."""

from __future__ import annotations

import concurrent.futures
import json
import time

import pytest
import sqlalchemy as sa

from mallow.testing.payments import configure_wechatpay, place_order, post_notification, wechatpay_server
from mallow.testing.wechatpay import (
    SignedNotification,
    encrypt_resource,
    generate_public_key_id,
    make_fake_merchant,
    notification_body,
    payment_notification,
    sign_headers,
    transaction_resource,
)
from mallow.testing import bearer, make_product, make_shopper, make_store


@pytest.fixture(scope="module")
def merchants(rsa_keys):
    store_a = make_fake_merchant(
        mchid="1900000109", appid="wxd678efh567hg6787", merchant_key=rsa_keys[0], platform_key=rsa_keys[1]
    )
    store_b = make_fake_merchant(
        mchid="1900000200", appid="wx0000000000store2", merchant_key=rsa_keys[3], platform_key=rsa_keys[2]
    )
    return store_a, store_b


def _state(app, shop):
    from mallow.db import db
    from mallow.orders.models import Order, OrderEvent
    from mallow.payments.models import Payment, PaymentNotification
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        order = db.session.execute(sa.select(Order)).scalar_one()
        return {
            "order": order.status,
            "events": db.session.execute(sa.select(sa.func.count(OrderEvent.id))).scalar_one(),
            "payments": [(p.status, p.transaction_id) for p in db.session.execute(sa.select(Payment)).scalars()],
            "log": [
                (n.accepted, n.reason)
                for n in db.session.execute(sa.select(PaymentNotification).order_by(PaymentNotification.id)).scalars()
            ],
            "rejected": dict(
                db.session.execute(
                    sa.select(PaymentNotification.reason, sa.func.sum(PaymentNotification.count))
                    .where(PaymentNotification.accepted.is_(False))
                    .group_by(PaymentNotification.reason)
                ).all()
            ),
        }


def _unpaid_order(app, server, merchant):
    shop = make_store(app)
    configure_wechatpay(app, shop, merchant)
    [sku] = make_product(app, shop, price=2500, stock=5)
    client = app.test_client()
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku, 2)
    pay = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "wechatpay"}
    )
    assert pay.status_code == 200, pay.get_json()
    return shop, client, order, pay.get_json()["payment"]["out_trade_no"]


def _signed(merchant, payload, *, event_type="TRANSACTION.SUCCESS", resource=None, body=None) -> SignedNotification:
    """A notification signed with the store's real platform key (so only the content is wrong)."""
    if body is None:
        resource = resource or encrypt_resource(merchant.keys.apiv3_key, payload)
        body = notification_body(event_type, resource)
    return SignedNotification(body, sign_headers(merchant.platform_private_key, merchant.platform_serial, body))


def _forge(kind, merchant, other, spare_key, out_trade_no, total):
    keys = merchant.keys
    valid = payment_notification(merchant, out_trade_no, total)
    if kind == "bad_signature":  # WeChat's probes look like this too
        forged = sign_headers(spare_key, merchant.platform_serial, valid.body)
        return SignedNotification(valid.body, valid.headers | {"Wechatpay-Signature": forged["Wechatpay-Signature"]})
    if kind == "tampered_body":
        envelope = json.loads(valid.body)
        envelope["resource"]["ciphertext"] = envelope["resource"]["ciphertext"][::-1]
        return SignedNotification(json.dumps(envelope).encode(), valid.headers)
    if kind == "wrong_serial":
        return SignedNotification(valid.body, valid.headers | {"Wechatpay-Serial": generate_public_key_id()})
    if kind == "other_store_signature":
        return payment_notification(other, out_trade_no, total)
    if kind == "stale_timestamp":
        return payment_notification(merchant, out_trade_no, total, timestamp=int(time.time()) - 400)
    if kind == "future_timestamp":
        return payment_notification(merchant, out_trade_no, total, timestamp=int(time.time()) + 400)
    if kind == "missing_header":
        return SignedNotification(valid.body, {k: v for k, v in valid.headers.items() if k != "Wechatpay-Signature"})
    if kind == "bad_signature_type":
        return SignedNotification(valid.body, valid.headers | {"Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"})
    if kind == "tampered_ciphertext":
        resource = encrypt_resource(keys.apiv3_key, transaction_resource(keys, out_trade_no, total))
        raw = bytearray(__import__("base64").b64decode(resource["ciphertext"]))
        raw[5] ^= 0x01
        resource["ciphertext"] = __import__("base64").b64encode(bytes(raw)).decode()
        return _signed(merchant, None, resource=resource)
    if kind == "other_apiv3_key":
        return _signed(
            merchant,
            None,
            resource=encrypt_resource(other.keys.apiv3_key, transaction_resource(keys, out_trade_no, total)),
        )
    if kind == "bad_algorithm":
        resource = encrypt_resource(keys.apiv3_key, transaction_resource(keys, out_trade_no, total))
        return _signed(merchant, None, resource=resource | {"algorithm": "AEAD_AES_128_GCM"})
    if kind == "truncated_tag":
        resource = encrypt_resource(keys.apiv3_key, transaction_resource(keys, out_trade_no, total))
        return _signed(merchant, None, resource=resource | {"ciphertext": "AAAA"})
    if kind == "not_json":
        return _signed(merchant, None, body=b"not json at all")
    if kind == "wrong_amount":
        return payment_notification(merchant, out_trade_no, total - 1)
    if kind == "wrong_mchid":
        return payment_notification(merchant, out_trade_no, total, mchid="1900009999")
    if kind == "wrong_appid":
        return payment_notification(merchant, out_trade_no, total, appid="wx9999999999999999")
    if kind == "wrong_currency":
        return payment_notification(merchant, out_trade_no, total, currency="USD")
    if kind == "not_success":
        return payment_notification(merchant, out_trade_no, total, trade_state="NOTPAY")
    if kind == "unknown_order":
        return payment_notification(merchant, out_trade_no[:-2] + "99", total)
    raise AssertionError(kind)


FORGERIES = {
    "bad_signature": (401, "bad_signature"),
    "tampered_body": (401, "bad_signature"),
    "wrong_serial": (401, "unknown_serial"),
    "other_store_signature": (401, "unknown_serial"),
    "stale_timestamp": (401, "stale_timestamp"),
    "future_timestamp": (401, "stale_timestamp"),
    "missing_header": (401, "missing_header"),
    "bad_signature_type": (401, "bad_signature_type"),
    "tampered_ciphertext": (400, "decrypt_failed"),
    "other_apiv3_key": (400, "decrypt_failed"),
    "bad_algorithm": (400, "bad_algorithm"),
    "truncated_tag": (400, "bad_ciphertext"),
    "not_json": (400, "malformed_body"),
    "wrong_amount": (400, "wrong_amount"),
    "wrong_mchid": (400, "wrong_mchid"),
    "wrong_appid": (400, "wrong_appid"),
    "wrong_currency": (400, "wrong_currency"),
    "not_success": (400, "not_success"),
    "unknown_order": (400, "wrong_order"),
}


def test_forged_notifications_are_rejected_logged_and_change_nothing(app, merchants, spare_key):
    merchant, other = merchants
    with wechatpay_server(app, merchant) as server:
        shop, client, order, out_trade_no = _unpaid_order(app, server, merchant)
        before = _state(app, shop)
        expected: dict[str, int] = {}
        for kind, (status, reason) in FORGERIES.items():
            answer = post_notification(
                client, shop, "wechatpay", _forge(kind, merchant, other, spare_key, out_trade_no, order["total"])
            )
            assert answer.status_code == status, (kind, answer.status_code)
            assert answer.get_json() == {"code": "FAIL", "message": reason}, kind
            expected[reason] = expected.get(reason, 0) + 1
            now = _state(app, shop)
            assert now["rejected"] == expected, kind  # every rejection is counted, under its reason
            assert (now["order"], now["events"], now["payments"]) == (
                before["order"],
                before["events"],
                before["payments"],
            )
        assert sum(_state(app, shop)["rejected"].values()) == len(FORGERIES)
        assert before["order"] == "pending_payment" and before["payments"] == [("created", None)]

        # The genuine notification still pays the order, once.
        server.mark_paid(out_trade_no)
        assert (
            post_notification(client, shop, "wechatpay", server.payment_notification(out_trade_no)).status_code == 204
        )
        assert _state(app, shop)["order"] == "paid"


def test_replayed_notification_changes_nothing(app, merchants):
    merchant, _ = merchants
    with wechatpay_server(app, merchant) as server:
        shop, client, order, out_trade_no = _unpaid_order(app, server, merchant)
        note = payment_notification(merchant, out_trade_no, order["total"])
        assert post_notification(client, shop, "wechatpay", note).status_code == 204
        paid = _state(app, shop)
        assert paid["order"] == "paid"
        for _ in range(3):
            again = post_notification(client, shop, "wechatpay", note)
            assert again.status_code == 204 and again.get_data() == b""
        replayed = _state(app, shop)
        assert (replayed["order"], replayed["events"], replayed["payments"]) == (
            paid["order"],
            paid["events"],
            paid["payments"],
        )
        assert replayed["log"] == [(True, "")] + [(True, "duplicate")] * 3
        # Another transaction id for an attempt already paid is not a replay: refused, logged.
        other_tx = payment_notification(merchant, out_trade_no, order["total"], transaction_id="4200" + "7" * 24)
        assert post_notification(client, shop, "wechatpay", other_tx).status_code == 400
        assert _state(app, shop)["log"][-1] == (False, "wrong_order")


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)  # row locks under real concurrency
def test_concurrent_replays_pay_once(app, merchants):
    merchant, _ = merchants
    with wechatpay_server(app, merchant) as server:
        shop, _client, order, out_trade_no = _unpaid_order(app, server, merchant)
        note = payment_notification(merchant, out_trade_no, order["total"])

        def post(_):
            return post_notification(app.test_client(), shop, "wechatpay", note).status_code

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(post, range(10)))
        assert statuses == [204] * 10
        state = _state(app, shop)
        assert state["order"] == "paid" and len(state["payments"]) == 1
        assert sorted(state["log"]) == [(True, "")] + [(True, "duplicate")] * 9

    from mallow.db import db
    from mallow.orders.models import OrderEvent
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        assert db.session.execute(sa.select(sa.func.count()).where(OrderEvent.kind == "paid")).scalar_one() == 1


def test_the_store_comes_from_the_path_and_no_token_is_needed(app, merchants):
    merchant_a, merchant_b = merchants
    with wechatpay_server(app, merchant_a, merchant_b) as server:
        shop_a, client, order, out_trade_no = _unpaid_order(app, server, merchant_a)
        shop_b = make_store(app)
        configure_wechatpay(app, shop_b, merchant_b)
        note = payment_notification(merchant_a, out_trade_no, order["total"])
        # Store A's notification posted to store B: B does not trust A's platform key.
        to_b = post_notification(client, shop_b, "wechatpay", note)
        assert to_b.status_code == 401 and to_b.get_json()["message"] == "unknown_serial"
        assert _state(app, shop_a)["order"] == "pending_payment"
        # No bearer token, a junk one, or a shopper's session: the signature alone decides.
        junk = post_notification(
            client,
            shop_a,
            "wechatpay",
            note,
            headers=note.headers | {"Authorization": "Bearer not-a-token", "X-Mallow-Store": shop_b.slug},
        )
        assert junk.status_code == 204
        assert _state(app, shop_a)["order"] == "paid"


def test_unknown_or_disabled_provider_answers_fail(app):
    shop = make_store(app)
    client = app.test_client()
    answer = client.post(f"{shop.prefix}/api/payments/wechatpay/notify", data=b"{}", content_type="application/json")
    assert answer.status_code == 404 and answer.get_json()["code"] == "FAIL"
    assert client.post(f"{shop.prefix}/api/payments/alipay/notify", data=b"{}").status_code == 404
    assert client.post(f"{shop.prefix}/api/payments/Bad%20Name/notify", data=b"{}").status_code == 404
    big = client.post(f"{shop.prefix}/api/payments/sandbox/notify", data=b"x" * 70_000)
    assert big.status_code == 413 and big.get_json()["code"] == "FAIL"


def test_sandbox_notifications_are_signed_per_store(app):
    """The sandbox's notify URL takes only what the store's own sandbox secret signed."""
    from mallow.db import db
    from mallow.payments.models import Payment
    from mallow.payments.sandbox import SandboxProvider
    from mallow.tenants.context import store_context
    from mallow.tenants.models import Store

    shop, other = make_store(app), make_store(app)
    client = app.test_client()
    [sku] = make_product(app, shop, price=990, stock=5)
    token, address = make_shopper(client, shop)
    order = place_order(client, shop, token, address, sku)
    started = client.post(
        f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token), json={"provider": "sandbox"}
    )
    out_trade_no = started.get_json()["payment"]["out_trade_no"]
    with store_context(other.store_id, app=app):
        impostor = SandboxProvider(db.session.get(Store, other.store_id))
    with store_context(shop.store_id, app=app):
        payment = db.session.execute(sa.select(Payment).where(Payment.out_trade_no == out_trade_no)).scalar_one()
        body, headers = impostor.payment_notification(payment)
        real = SandboxProvider(db.session.get(Store, shop.store_id))
        stale_body, _ = real.payment_notification(payment)
        stale_headers = real.sign(stale_body, timestamp=int(time.time()) - 1000)
        # only the amount: "990" may also stand in a random id or the transaction's number
        cheap_body = stale_body.replace(f'"total":{payment.amount},'.encode(), b'"total":1,')
        assert cheap_body != stale_body
        cheap_headers = real.sign(cheap_body)
    forged = client.post(f"{shop.prefix}/api/payments/sandbox/notify", data=body, headers=headers)
    assert forged.status_code == 401 and forged.get_json()["message"] == "bad_signature"
    stale = client.post(f"{shop.prefix}/api/payments/sandbox/notify", data=stale_body, headers=stale_headers)
    assert stale.status_code == 401 and stale.get_json()["message"] == "stale_timestamp"
    cheap = client.post(f"{shop.prefix}/api/payments/sandbox/notify", data=cheap_body, headers=cheap_headers)
    assert cheap.status_code == 400 and cheap.get_json()["message"] == "wrong_amount"
    unsigned = client.post(f"{shop.prefix}/api/payments/sandbox/notify", data=stale_body)
    assert unsigned.status_code == 401 and unsigned.get_json()["message"] == "missing_header"
    assert (
        client.get(f"{shop.prefix}/api/orders/{order['id']}", headers=bearer(token)).get_json()["status"]
        == "pending_payment"
    )


def test_operations_are_documented(client):
    doc = client.get("/api/openapi.json").get_json()
    operations = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()}
    for operation_id in (
        "payOrder",
        "paymentNotify",
        "requestAfterSale",
        "listAfterSales",
        "withdrawAfterSale",
        "shipReturn",
        "decideAfterSale",
        "confirmReturn",
        "listStoreAfterSales",
        "getWeChatPayConfig",
        "setWeChatPayConfig",
    ):
        assert operation_id in operations, operation_id
    assert operations["paymentNotify"]["security"] == []
    assert "204" in operations["paymentNotify"]["responses"]
    assert "multipart/form-data" in operations["requestAfterSale"]["requestBody"]["content"]
