"""WeChat Pay Native (扫码支付) in the client and the fake server: real HTTP on 127.0.0.1, real
signatures both ways. The store asks for a ``code_url``, the fake checks the request's signature as
WeChat Pay does and signs its answer; a payer "scans and pays" and WeChat Pay's signed notification
verifies with the store's keys; every error comes back mapped like the other scenes'."""

from __future__ import annotations

import json
import uuid

import pytest

from mallow.payments.wechatpay import (
    InvalidRequest,
    PaymentNotification,
    TransportError,
    UnverifiedResponse,
    UrllibTransport,
    WeChatPayClient,
    WeChatPayError,
    check_payment,
    parse_notification,
)
from mallow.payments.wechatpay.client import NATIVE_CODE_URL_RE
from mallow.testing.wechatpay import FakeWeChatPayServer, sign_headers

NOTIFY = "https://mall.example.com/s/tea-house/api/payments/wechatpay/notify"


def trade_no() -> str:
    return "N" + uuid.uuid4().hex[:20]


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


class RecordingTransport:
    def __init__(self):
        self.inner, self.sent = UrllibTransport(timeout=5), []

    def request(self, method, url, headers, body):
        self.sent.append((method, url, dict(headers), body))
        return self.inner.request(method, url, headers, body)


@pytest.fixture
def transport():
    return RecordingTransport()


@pytest.fixture
def client(merchant, server, transport):
    return WeChatPayClient(merchant.keys, transport, base_url=server.base_url)


def test_a_native_order_answers_a_wechat_code_and_is_signed_both_ways(merchant, client, server, transport):
    out_trade_no = trade_no()
    code_url = client.create_native_order(out_trade_no, "乌龙茶 250g", 5990, NOTIFY)
    assert NATIVE_CODE_URL_RE.fullmatch(code_url) and code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    # what was sent: the H5 body without scene_info, signed with the merchant key (the fake checked it)
    method, url, headers, body = transport.sent[-1]
    assert (method, url) == ("POST", server.base_url + "/v3/pay/transactions/native")
    assert headers["Authorization"].startswith(f'WECHATPAY2-SHA256-RSA2048 mchid="{merchant.keys.mchid}",')
    assert json.loads(body) == {
        "appid": merchant.keys.appid,
        "mchid": merchant.keys.mchid,
        "description": "乌龙茶 250g",
        "out_trade_no": out_trade_no,
        "notify_url": NOTIFY,
        "amount": {"total": 5990, "currency": "CNY"},
    }
    assert (server.requests[-1].path, server.requests[-1].status) == ("/v3/pay/transactions/native", 200)
    order = server.order(out_trade_no, merchant.keys.mchid)
    assert order.trade_type == "NATIVE" and order.code_url == code_url
    assert client.query_order(out_trade_no).trade_state == "NOTPAY"


def test_asking_again_gives_the_same_code_and_another_scene_cannot_take_the_number(client):
    out_trade_no = trade_no()
    code_url = client.create_native_order(out_trade_no, "茶", 800, NOTIFY)
    assert client.create_native_order(out_trade_no, "茶", 800, NOTIFY) == code_url
    for other_scene in (
        lambda: client.create_h5_order(out_trade_no, "茶", 800, "203.0.113.7", NOTIFY),
        lambda: client.create_native_order(out_trade_no, "茶", 801, NOTIFY),
    ):
        with pytest.raises(WeChatPayError) as caught:
            other_scene()
        assert (caught.value.status, caught.value.code) == (400, "INVALID_REQUEST")


def test_a_scanned_and_paid_code_sends_a_notification_the_store_can_verify(merchant, client, server):
    out_trade_no = trade_no()
    code_url = client.create_native_order(out_trade_no, "茶", 1200, NOTIFY)
    delivered = []
    note = server.scan_and_pay(code_url, deliver=delivered.append)
    assert delivered == [note] and note.notify_url == NOTIFY
    parsed = parse_notification(note.body, note.headers, merchant.keys)
    assert isinstance(parsed, PaymentNotification) and parsed.trade_state == "SUCCESS"
    assert parsed.out_trade_no == out_trade_no and parsed.trade_type == "NATIVE"
    check_payment(parsed, merchant.keys, out_trade_no, 1200)
    queried = client.query_order(out_trade_no)
    assert queried.trade_state == "SUCCESS" and queried.transaction_id == parsed.transaction_id
    with pytest.raises(WeChatPayError) as caught:  # paid: no second code for the same number
        client.create_native_order(out_trade_no, "茶", 1200, NOTIFY)
    assert caught.value.code == "ORDERPAID"
    with pytest.raises(KeyError):
        server.scan_and_pay("weixin://wxpay/bizpayurl?pr=nobody")


def test_errors_are_mapped_like_the_other_scenes(merchant, client, server):
    server.fail_next_requests(status=500, code="SYSTEM_ERROR")
    with pytest.raises(WeChatPayError) as caught:
        client.create_native_order(trade_no(), "茶", 100, NOTIFY)
    assert (caught.value.status, caught.value.code) == (500, "SYSTEM_ERROR")

    server.drop_next_responses()
    with pytest.raises(TransportError):
        client.create_native_order(trade_no(), "茶", 100, NOTIFY)

    server.tamper_next_response(lambda status, headers, body: (status, headers, body.replace(b"pr=", b"pr=x", 1)))
    with pytest.raises(UnverifiedResponse) as unverified:
        client.create_native_order(trade_no(), "茶", 100, NOTIFY)
    assert unverified.value.reason_code == "bad_signature"

    # a correctly signed answer whose code is not WeChat's is still not drawn as a QR code
    def elsewhere(status, headers, body):
        forged = json.dumps({"code_url": "https://evil.example/pay"}).encode()
        return status, sign_headers(merchant.platform_private_key, merchant.platform_serial, forged), forged

    server.tamper_next_response(elsewhere)
    with pytest.raises(WeChatPayError) as caught:
        client.create_native_order(trade_no(), "茶", 100, NOTIFY)
    assert caught.value.code == "BAD_RESPONSE"


def test_the_fake_refuses_what_wechat_pay_refuses(merchant, other_merchant, client, server, spare_key):
    # another merchant's key cannot order for this one
    from mallow.testing.wechatpay import make_fake_merchant

    impostor = make_fake_merchant(
        mchid=merchant.keys.mchid,
        appid=merchant.keys.appid,
        merchant_key=spare_key,
        platform_key=merchant.platform_private_key,
        platform_serial=merchant.platform_serial,
    )
    with pytest.raises(WeChatPayError) as caught:
        WeChatPayClient(impostor.keys, base_url=server.base_url).create_native_order(trade_no(), "茶", 100, NOTIFY)
    assert (caught.value.status, caught.value.code) == (401, "SIGN_ERROR")
    # what WeChat Pay would refuse never leaves the client (a notify URL with a query, a bad number or amount)
    with pytest.raises(InvalidRequest):
        client.create_native_order(trade_no(), "茶", 100, NOTIFY + "?store=1")
    with pytest.raises(InvalidRequest):
        client.create_native_order("short", "茶", 100, NOTIFY)
    with pytest.raises(InvalidRequest):
        client.create_native_order(trade_no(), "茶", 0, NOTIFY)
    raw = (
        client._call
    )  # the wire as WeChat Pay sees it, past the client's own checks: a bad scene_info, a foreign appid
    with pytest.raises(WeChatPayError) as caught:
        raw(
            "POST",
            "/v3/pay/transactions/native",
            {
                "appid": merchant.keys.appid,
                "mchid": merchant.keys.mchid,
                "description": "茶",
                "out_trade_no": trade_no(),
                "notify_url": NOTIFY,
                "amount": {"total": 100, "currency": "CNY"},
                "scene_info": {"payer_client_ip": "not-an-ip"},
            },
        )
    assert (caught.value.status, caught.value.code) == (400, "PARAM_ERROR")
    with pytest.raises(WeChatPayError) as caught:
        raw(
            "POST",
            "/v3/pay/transactions/native",
            {
                "appid": other_merchant.keys.appid,
                "mchid": merchant.keys.mchid,
                "description": "茶",
                "out_trade_no": trade_no(),
                "notify_url": NOTIFY,
                "amount": {"total": 100, "currency": "CNY"},
            },
        )
    assert caught.value.code == "APPID_MCHID_NOT_MATCH"
