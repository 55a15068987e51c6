"""WeChatPayClient against FakeWeChatPayServer: real HTTP on 127.0.0.1, real signatures both ways."""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from mallow.payments.wechatpay import (
    InvalidRequest,
    MerchantKeys,
    NotificationRejected,
    PaymentNotification,
    RefundNotification,
    TransportError,
    UnverifiedResponse,
    UrllibTransport,
    WeChatPayClient,
    WeChatPayError,
    authorization_header,
    check_payment,
    check_refund,
    parse_notification,
)
from mallow.payments.wechatpay.keys import private_key_to_pem
from mallow.testing.wechatpay import FakeWeChatPayServer, sign_headers, verify_pay_sign

NOTIFY = "https://mall.example.com/s/tea-house/payments/wechat/notify"


def trade_no() -> str:
    return "T" + uuid.uuid4().hex[:20]


@pytest.fixture(scope="module")
def server(merchant, other_merchant):
    with FakeWeChatPayServer() as fake:
        fake.add_fake_merchant(merchant)
        fake.add_fake_merchant(other_merchant)
        yield fake


@pytest.fixture(autouse=True)
def _no_leftover_faults(server):
    server.reset_faults()
    yield
    server.reset_faults()


@pytest.fixture
def client(merchant, server):
    return WeChatPayClient(merchant.keys, base_url=server.base_url)


@pytest.fixture
def paid_order(client, server):
    """A 100.00 yuan order, paid."""
    out_trade_no = trade_no()
    client.create_jsapi_order(out_trade_no, "乌龙茶 250g", 10000, "o-shopper-1", NOTIFY)
    server.mark_paid(out_trade_no, client.keys.mchid)
    return out_trade_no


class RecordingTransport:
    """Wraps a transport and keeps what was sent and received."""

    def __init__(self, inner=None):
        self.inner = inner or UrllibTransport(timeout=5)
        self.sent = []

    def request(self, method, url, headers, body):
        self.sent.append((method, url, dict(headers), body))
        return self.inner.request(method, url, headers, body)


# ---- the happy path ---------------------------------------------------------------------------


def test_order_pay_query_refund_round_trip(merchant, client, server):
    out_trade_no = trade_no()
    prepay_id = client.create_jsapi_order(
        out_trade_no, "乌龙茶 250g", 5990, "o-shopper-1", NOTIFY, attach="store=tea-house"
    )
    assert prepay_id.startswith("wx")

    params = client.jsapi_payment_params(prepay_id)
    assert params["package"] == f"prepay_id={prepay_id}" and params["appId"] == merchant.keys.appid
    assert verify_pay_sign(params, merchant.merchant_public_key)

    unpaid = client.query_order(out_trade_no)
    assert unpaid.trade_state == "NOTPAY" and unpaid.transaction_id is None
    with pytest.raises(NotificationRejected) as caught:
        check_payment(unpaid, merchant.keys, out_trade_no, 5990)
    assert caught.value.reason_code == "not_success"

    server.mark_paid(out_trade_no, merchant.keys.mchid)
    paid = client.query_order(out_trade_no)
    assert (paid.trade_state, paid.amount_total_fen, paid.currency, paid.payer_openid, paid.attach) == (
        "SUCCESS",
        5990,
        "CNY",
        "o-shopper-1",
        "store=tea-house",
    )
    check_payment(paid, merchant.keys, out_trade_no, 5990)

    # The notification WeChat would post for it verifies and passes the business checks.
    note = server.payment_notification(out_trade_no, merchant.keys.mchid)
    assert note.notify_url == NOTIFY
    parsed = parse_notification(note.body, note.headers, merchant.keys)
    assert isinstance(parsed, PaymentNotification) and parsed.transaction_id == paid.transaction_id
    check_payment(parsed, merchant.keys, out_trade_no, 5990)

    refund = client.refund(out_trade_no, f"R{out_trade_no}", 1000, 5990, "口味不合", NOTIFY)
    assert (refund.refund_status, refund.amount_refund_fen, refund.amount_total_fen) == ("PROCESSING", 1000, 5990)
    assert refund.transaction_id == paid.transaction_id

    server.complete_refund(f"R{out_trade_no}", merchant.keys.mchid)
    done = client.query_refund(f"R{out_trade_no}")
    assert done.refund_status == "SUCCESS" and done.refund_id == refund.refund_id and done.success_time
    refund_note = server.refund_notification(f"R{out_trade_no}", merchant.keys.mchid)
    parsed_refund = parse_notification(refund_note.body, refund_note.headers, merchant.keys)
    assert isinstance(parsed_refund, RefundNotification) and parsed_refund.refund_status == "SUCCESS"
    check_refund(parsed_refund, merchant.keys, f"R{out_trade_no}", 1000)


def test_same_order_twice_returns_the_same_prepay_id(client):
    out_trade_no = trade_no()
    first = client.create_jsapi_order(out_trade_no, "茶", 100, "o-1", NOTIFY)
    assert client.create_jsapi_order(out_trade_no, "茶", 100, "o-1", NOTIFY) == first
    with pytest.raises(WeChatPayError) as caught:
        client.create_jsapi_order(out_trade_no, "茶", 1, "o-1", NOTIFY)
    assert (caught.value.status, caught.value.code) == (400, "INVALID_REQUEST")


def test_paid_order_cannot_be_ordered_again_or_closed(client, paid_order):
    with pytest.raises(WeChatPayError) as caught:
        client.create_jsapi_order(paid_order, "乌龙茶 250g", 10000, "o-shopper-1", NOTIFY)
    assert caught.value.code == "ORDERPAID"
    with pytest.raises(WeChatPayError) as caught:
        client.close_order(paid_order)
    assert caught.value.code == "ORDERPAID"


def test_close_unpaid_order(client):
    out_trade_no = trade_no()
    client.create_jsapi_order(out_trade_no, "茶", 100, "o-1", NOTIFY)
    assert client.close_order(out_trade_no) is None
    assert client.query_order(out_trade_no).trade_state == "CLOSED"


def test_h5_order(client, server):
    out_trade_no = trade_no()
    h5_url = client.create_h5_order(out_trade_no, "茶", 800, "203.0.113.7", NOTIFY, h5_type="iOS")
    assert h5_url.startswith("https://")
    assert server.order(out_trade_no, client.keys.mchid).trade_type == "MWEB"
    with pytest.raises(InvalidRequest):
        client.create_h5_order(trade_no(), "茶", 800, "not-an-ip", NOTIFY)
    with pytest.raises(InvalidRequest):
        client.create_h5_order(trade_no(), "茶", 800, "203.0.113.7", NOTIFY, h5_type="Windows")


def test_query_unknown_order_is_an_error(client):
    with pytest.raises(WeChatPayError) as caught:
        client.query_order(trade_no())
    assert (caught.value.status, caught.value.code) == (404, "ORDER_NOT_EXIST")
    assert caught.value.request_id


def test_stores_cannot_see_each_others_orders(client, other_merchant, server, paid_order):
    other = WeChatPayClient(other_merchant.keys, base_url=server.base_url)
    with pytest.raises(WeChatPayError) as caught:
        other.query_order(paid_order)
    assert caught.value.code == "ORDER_NOT_EXIST"


def test_special_characters_of_out_trade_no_are_signed_as_sent(client, server):
    out_trade_no = "A|B*C-D_" + uuid.uuid4().hex[:8]
    client.create_jsapi_order(out_trade_no, "茶", 100, "o-1", NOTIFY)
    assert client.query_order(out_trade_no).out_trade_no == out_trade_no
    assert server.requests[-1].path.startswith("/v3/pay/transactions/out-trade-no/A%7CB%2AC-D_")


def test_request_headers_and_body(merchant, server):
    transport = RecordingTransport()
    client = WeChatPayClient(merchant.keys, transport, base_url=server.base_url)
    expire = datetime(2030, 6, 8, 10, 34, 56, tzinfo=timezone(timedelta(hours=8)))
    out_trade_no = trade_no()
    client.create_jsapi_order(out_trade_no, "茶", 100, "o-1", NOTIFY, time_expire=expire)
    method, url, headers, body = transport.sent[-1]
    assert (method, url) == ("POST", server.base_url + "/v3/pay/transactions/jsapi")
    assert headers["Authorization"].startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109",')
    assert headers["Content-Type"] == "application/json" and headers["Accept"] == "application/json"
    sent = json.loads(body)
    assert sent == {
        "appid": merchant.keys.appid,
        "mchid": merchant.keys.mchid,
        "description": "茶",
        "out_trade_no": out_trade_no,
        "notify_url": NOTIFY,
        "amount": {"total": 100, "currency": "CNY"},
        "time_expire": "2030-06-08T10:34:56+08:00",
        "payer": {"openid": "o-1"},
    }
    client.query_order(out_trade_no)
    method, url, headers, body = transport.sent[-1]
    assert (method, body) == ("GET", b"") and url.endswith(f"?mchid={merchant.keys.mchid}")


# ---- refunds ----------------------------------------------------------------------------------


def test_refund_retry_with_the_same_number_is_idempotent(client, server, paid_order):
    first = client.refund(paid_order, "RF" + paid_order, 3000, 10000, "缺货", None)
    again = client.refund(paid_order, "RF" + paid_order, 3000, 10000, "缺货", None)
    assert again.refund_id == first.refund_id
    assert server.order(paid_order, client.keys.mchid).refund_nos == ["RF" + paid_order]
    # Same number, different amount: refused rather than silently paying something else.
    with pytest.raises(WeChatPayError) as caught:
        client.refund(paid_order, "RF" + paid_order, 4000, 10000, "缺货", None)
    assert caught.value.code == "INVALID_REQUEST"


def test_refund_after_a_timeout_is_retried_with_the_same_number(client, server, paid_order):
    server.drop_next_responses(1)  # WeChat made the refund, but the answer never arrived
    with pytest.raises(TransportError) as caught:
        client.refund(paid_order, "RT" + paid_order, 2500, 10000, None, None)
    assert caught.value.status == 0
    assert server.refund_record("RT" + paid_order, client.keys.mchid) is not None

    refund = client.refund(paid_order, "RT" + paid_order, 2500, 10000, None, None)
    assert refund.amount_refund_fen == 2500
    assert server.order(paid_order, client.keys.mchid).refund_nos == ["RT" + paid_order]


def test_refund_after_a_server_error_is_retried_with_the_same_number(client, server, paid_order):
    server.fail_next_requests(1)
    with pytest.raises(WeChatPayError) as caught:
        client.refund(paid_order, "RE" + paid_order, 100, 10000, None, None)
    assert (caught.value.status, caught.value.code) == (500, "SYSTEM_ERROR")
    assert client.refund(paid_order, "RE" + paid_order, 100, 10000, None, None).amount_refund_fen == 100


def test_refunds_never_exceed_what_was_paid(client, server, paid_order):
    client.refund(paid_order, "RA" + paid_order, 6000, 10000, None, None)
    with pytest.raises(WeChatPayError) as caught:
        client.refund(paid_order, "RB" + paid_order, 4001, 10000, None, None)
    assert (caught.value.status, caught.value.code) == (400, "INVALID_REQUEST")
    assert client.refund(paid_order, "RC" + paid_order, 4000, 10000, None, None).amount_refund_fen == 4000
    with pytest.raises(WeChatPayError):
        client.refund(paid_order, "RD" + paid_order, 1, 10000, None, None)
    refunds = [
        server.refund_record(no, client.keys.mchid) for no in server.order(paid_order, client.keys.mchid).refund_nos
    ]
    assert sum(r.refund_fen for r in refunds) == 10000


def test_refund_of_an_unpaid_or_unknown_order_is_refused(client):
    out_trade_no = trade_no()
    client.create_jsapi_order(out_trade_no, "茶", 100, "o-1", NOTIFY)
    with pytest.raises(WeChatPayError) as caught:
        client.refund(out_trade_no, "RX" + out_trade_no, 100, 100, None, None)
    assert caught.value.code == "INVALID_REQUEST"
    with pytest.raises(WeChatPayError) as caught:
        client.refund(trade_no(), "RY" + out_trade_no, 100, 100, None, None)
    assert caught.value.status == 404


def test_refund_with_a_wrong_total_is_refused(client, paid_order):
    with pytest.raises(WeChatPayError) as caught:
        client.refund(paid_order, "RW" + paid_order, 100, 9999, None, None)
    assert caught.value.code == "PARAM_ERROR"


def test_query_unknown_refund(client):
    with pytest.raises(WeChatPayError) as caught:
        client.query_refund("NO-SUCH-REFUND")
    assert (caught.value.status, caught.value.code) == (404, "RESOURCE_NOT_EXISTS")


# ---- every response is verified -----------------------------------------------------------------


def test_tampered_response_body_is_rejected(client, server, paid_order):
    server.tamper_next_response(
        lambda status, headers, body: (status, headers, body.replace(b'"SUCCESS"', b'"SUCCESS" ', 1))
    )
    with pytest.raises(UnverifiedResponse) as caught:
        client.query_order(paid_order)
    assert caught.value.reason_code == "bad_signature" and caught.value.status == 200


def test_forged_not_found_is_not_believed(client, server, paid_order):
    # A man in the middle answering "no such order" for a paid one must not be trusted.
    def forge(status, headers, body):
        return (
            404,
            headers,
            b'{"code":"ORDER_NOT_EXIST","message":"\xe8\xae\xa2\xe5\x8d\x95\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8"}',
        )

    server.tamper_next_response(forge)
    with pytest.raises(UnverifiedResponse) as caught:
        client.query_order(paid_order)
    assert caught.value.status == 404 and caught.value.code == "UNVERIFIED_RESPONSE"


def test_response_signed_by_an_untrusted_key_is_rejected(client, server, paid_order, spare_key, merchant):
    def resign(status, headers, body):
        return status, sign_headers(spare_key, merchant.platform_serial, body), body

    server.tamper_next_response(resign)
    with pytest.raises(UnverifiedResponse) as caught:
        client.query_order(paid_order)
    assert caught.value.reason_code == "bad_signature"


def test_response_signed_for_another_store_is_rejected(client, server, paid_order, other_merchant):
    def resign(status, headers, body):
        return status, sign_headers(other_merchant.platform_private_key, other_merchant.platform_serial, body), body

    server.tamper_next_response(resign)
    with pytest.raises(UnverifiedResponse) as caught:
        client.query_order(paid_order)
    assert caught.value.reason_code == "unknown_serial"


@pytest.mark.parametrize(
    "header", ["Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Timestamp", "Wechatpay-Nonce"]
)
def test_unsigned_response_is_rejected(client, server, paid_order, header):
    server.tamper_next_response(
        lambda status, headers, body: (status, {k: v for k, v in headers.items() if k != header}, body)
    )
    with pytest.raises(UnverifiedResponse) as caught:
        client.query_order(paid_order)
    assert caught.value.reason_code == "missing_header"


def test_stale_response_is_rejected(client, server, paid_order, merchant):
    # A genuine but old signed answer (a replay): the signature is valid, the timestamp is not.
    def replay(status, headers, body):
        return (
            status,
            sign_headers(
                merchant.platform_private_key, merchant.platform_serial, body, timestamp=int(time.time()) - 400
            ),
            body,
        )

    server.tamper_next_response(replay)
    with pytest.raises(UnverifiedResponse) as caught:
        client.query_order(paid_order)
    assert caught.value.reason_code == "stale_timestamp"


def test_client_clock_skew(merchant, server, paid_order):
    assert (
        WeChatPayClient(merchant.keys, base_url=server.base_url, clock=lambda: time.time() + 250)
        .query_order(paid_order)
        .trade_state
        == "SUCCESS"
    )
    skewed = WeChatPayClient(merchant.keys, base_url=server.base_url, clock=lambda: time.time() + 400)
    with pytest.raises(WeChatPayError) as caught:
        skewed.query_order(paid_order)
    # The server refused the request; its (fresh) answer is itself out of the skewed client's window.
    assert caught.value.status == 401
    assert (server.requests[-1].status, server.requests[-1].code) == (401, "SIGN_ERROR")


def test_empty_204_response_is_verified(client, server):
    out_trade_no = trade_no()
    client.create_jsapi_order(out_trade_no, "茶", 100, "o-1", NOTIFY)
    server.tamper_next_response(lambda status, headers, body: (status, {**headers, "Wechatpay-Nonce": "X"}, body))
    with pytest.raises(UnverifiedResponse) as caught:
        client.close_order(out_trade_no)
    assert caught.value.status == 204 and caught.value.reason_code == "bad_signature"


# ---- the fake checks requests the way WeChat does ------------------------------------------------


def raw_request(server, keys, method, path, body=b"", *, authorization=None, **sign_kwargs):
    header = authorization or authorization_header(keys, method, path, body, **sign_kwargs)
    status, headers, response = UrllibTransport(timeout=5).request(
        method, server.base_url + path, {"Authorization": header, "Content-Type": "application/json"}, body
    )
    return status, response and json.loads(response)


def test_server_rejects_a_stale_or_future_request_timestamp(merchant, server):
    for offset in (-301, 301):
        status, body = raw_request(
            server, merchant.keys, "GET", "/v3/refund/domestic/refunds/NOPE", timestamp=int(time.time()) + offset
        )
        assert (status, body["code"]) == (401, "SIGN_ERROR")


def test_server_rejects_a_tampered_request(merchant, server):
    path = "/v3/pay/transactions/jsapi"
    body = json.dumps(
        {
            "appid": merchant.keys.appid,
            "mchid": merchant.keys.mchid,
            "description": "茶",
            "out_trade_no": trade_no(),
            "notify_url": NOTIFY,
            "amount": {"total": 100},
            "payer": {"openid": "o"},
        }
    ).encode()
    header = authorization_header(merchant.keys, "POST", path, body)
    status, response = raw_request(
        server, merchant.keys, "POST", path, body.replace(b"100", b"1"), authorization=header
    )
    assert (status, response["code"]) == (401, "SIGN_ERROR")
    status, response = raw_request(server, merchant.keys, "POST", path, body, authorization=header)
    assert status == 200 and response["prepay_id"]


def test_server_rejects_requests_signed_with_another_key(merchant, server, spare_key):
    impostor = MerchantKeys(
        mchid=merchant.keys.mchid,
        appid=merchant.keys.appid,
        merchant_private_key_pem=private_key_to_pem(spare_key),
        merchant_certificate_serial=merchant.keys.merchant_certificate_serial,
        apiv3_key=merchant.keys.apiv3_key,
        platform_public_keys=merchant.keys.platform_public_keys,
    )
    with pytest.raises(WeChatPayError) as caught:
        WeChatPayClient(impostor, base_url=server.base_url).query_refund("ANY")
    # The refusal itself is signed by WeChat, so the client can tell it apart from a forgery.
    assert (caught.value.status, caught.value.code) == (401, "SIGN_ERROR")
    assert not isinstance(caught.value, UnverifiedResponse)


def test_server_rejects_wrong_serial_missing_or_malformed_authorization(merchant, server):
    path = "/v3/refund/domestic/refunds/ANY"
    wrong_serial = authorization_header(merchant.keys, "GET", path, b"").replace(
        merchant.keys.merchant_certificate_serial, "0" * 40
    )
    for header in (wrong_serial, "Basic Zm9vOmJhcg==", 'WECHATPAY2-SHA256-RSA2048 mchid="1900000109"'):
        status, body = raw_request(server, merchant.keys, "GET", path, authorization=header)
        assert (status, body["code"]) == (401, "SIGN_ERROR")
    status, _, _ = UrllibTransport(timeout=5).request("GET", server.base_url + path, {}, b"")
    assert status == 401


def test_server_rejects_a_body_mchid_that_is_not_the_signer(client, other_merchant, server):
    # Store A signs a request that claims store B's mchid in the body.
    path = "/v3/pay/transactions/jsapi"
    body = json.dumps(
        {
            "appid": other_merchant.keys.appid,
            "mchid": other_merchant.keys.mchid,
            "description": "x",
            "out_trade_no": trade_no(),
            "notify_url": NOTIFY,
            "amount": {"total": 1},
            "payer": {"openid": "o"},
        }
    ).encode()
    status, response = raw_request(server, client.keys, "POST", path, body)
    assert (status, response["code"]) == (400, "PARAM_ERROR")


# ---- parameter checks happen before anything is sent ----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"out_trade_no": "12345"}, "out_trade_no"),
        ({"out_trade_no": "X" * 33}, "out_trade_no"),
        ({"out_trade_no": "ORDER 123456"}, "out_trade_no"),
        ({"out_trade_no": "ORDER/123456"}, "out_trade_no"),
        ({"description": "茶" * 128}, "description"),
        ({"description": ""}, "description"),
        ({"total_fen": 0}, "total_fen"),
        ({"total_fen": True}, "total_fen"),
        ({"total_fen": 19.99}, "total_fen"),
        ({"notify_url": NOTIFY + "?store=1"}, "notify_url"),
        ({"notify_url": "http://mall.example.com/notify"}, "notify_url"),
        ({"time_expire": datetime(2030, 1, 1)}, "time_expire"),
        ({"time_expire": "tomorrow"}, "time_expire"),
        ({"attach": "x" * 129}, "attach"),
        ({"payer_openid": ""}, "payer_openid"),
    ],
)
def test_invalid_order_parameters_are_refused_locally(client, server, kwargs, message):
    args = dict(out_trade_no=trade_no(), description="茶", total_fen=100, payer_openid="o-1", notify_url=NOTIFY)
    args.update(kwargs)
    before = len(server.requests)
    with pytest.raises(InvalidRequest, match=message):
        client.create_jsapi_order(**args)
    assert len(server.requests) == before


def test_boundary_parameters_are_accepted(client):
    assert client.create_jsapi_order("123456", "茶" * 127, 1, "o-1", NOTIFY, time_expire="2030-06-08T10:34:56+08:00")
    assert client.create_jsapi_order("Z" * 32, "茶", 1, "o-1", NOTIFY)


def test_invalid_refund_parameters_are_refused_locally(client, server, paid_order):
    before = len(server.requests)
    for args in (
        (paid_order, "R1", 101, 100, None, None),
        (paid_order, "R 1", 1, 100, None, None),
        (paid_order, "R" * 65, 1, 100, None, None),
        (paid_order, "R1", 0, 100, None, None),
        (paid_order, "R1", 1, 100, "x" * 81, None),
        (paid_order, "R1", 1, 100, None, "ftp://x/notify"),
        ("bad", "R1", 1, 100, None, None),
    ):
        with pytest.raises(InvalidRequest):
            client.refund(*args)
    with pytest.raises(InvalidRequest):
        client.query_refund("")
    with pytest.raises(InvalidRequest):
        client.query_order("no")
    assert len(server.requests) == before


def test_base_url_must_be_https_except_for_local_tests(merchant):
    with pytest.raises(ValueError):
        WeChatPayClient(merchant.keys, base_url="http://api.mch.weixin.qq.com")
    with pytest.raises(ValueError):
        WeChatPayClient(merchant.keys, base_url="https://api.mch.weixin.qq.com/?x=1")
    assert WeChatPayClient(merchant.keys).base_url == "https://api.mch.weixin.qq.com"


def test_connection_refused_is_a_transport_error(merchant):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = WeChatPayClient(merchant.keys, UrllibTransport(timeout=2), base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError):
        client.query_order(trade_no())
