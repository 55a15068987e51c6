"""Paying in the app, for tests: the sandbox cashier, WeChat Pay and WeChat web authorisation
against the kit's fakes, notifications and refunds.

Runs offline: WeChat Pay is :class:`~mallow.testing.wechatpay.FakeWeChatPayServer` on
127.0.0.1, injected through the app config (``WECHATPAY_BASE_URL``), never the network::

    merchant = make_fake_merchant(merchant_key=key1, platform_key=key2)
    with wechatpay_server(app, merchant) as server:
        configure_wechatpay(app, shop, merchant)
        order = place_order(client, shop, token, address, sku)
        pay = client.post(f"{shop.prefix}/api/orders/{order['id']}/pay", headers=bearer(token),
                          json={"provider": "wechatpay"}).get_json()
        server.mark_paid(pay["payment"]["out_trade_no"])
        post_notification(client, shop, "wechatpay", server.payment_notification(...))

Mallow's own services are imported inside the helpers, as everywhere in the kit: importing it
loads nothing of the app.
"""

from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

from mallow.payments.wechatpay import UrllibTransport

from .http import bearer, post_form
from .wechat_oauth import FakeWeChatOAuthServer
from .wechatpay import FakeWeChatPayServer

_UNSET = object()


@contextmanager
def _config_restored(app, names):
    """Put ``names`` of the app's config back as they were (or absent) on the way out."""
    saved = {name: app.config.get(name, _UNSET) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _UNSET:
                app.config.pop(name, None)
            else:
                app.config[name] = value


@contextmanager
def wechatpay_server(app, *merchants, transport=None):
    """A started fake WeChat Pay with ``merchants`` registered, set as the app's WeChat Pay."""
    with _config_restored(app, ("WECHATPAY_BASE_URL", "WECHATPAY_TRANSPORT")), FakeWeChatPayServer() as server:
        for merchant in merchants:
            server.add_fake_merchant(merchant)
        app.config["WECHATPAY_BASE_URL"] = server.base_url
        if transport is not None:
            app.config["WECHATPAY_TRANSPORT"] = transport
        yield server


OAUTH_CONFIG = ("WECHAT_OAUTH_AUTHORIZE_URL", "WECHAT_OAUTH_TOKEN_URL", "WECHAT_OAUTH_TIMEOUT", "WECHAT_API_BASE_URL")


@contextmanager
def wechat_oauth_server(app, appid: str, appsecret: str, *, timeout: float = 5.0):
    """A started fake WeChat web authorisation knowing ``appid``/``appsecret``, set as the app's
    (the real client talks to it; ``timeout`` is the client's: pass a short one where the fake holds
    an answer),
    with the JS-SDK's access_token and jsapi_ticket endpoints (``WECHAT_API_BASE_URL``)."""
    with _config_restored(app, OAUTH_CONFIG), FakeWeChatOAuthServer() as server:
        server.add_account(appid, appsecret)
        app.config.update(
            WECHAT_OAUTH_AUTHORIZE_URL=server.authorize_url,
            WECHAT_OAUTH_TOKEN_URL=server.token_url,
            WECHAT_OAUTH_TIMEOUT=timeout,
            WECHAT_API_BASE_URL=server.api_base_url,
        )
        yield server


def through_wechat(browser, shop) -> str:
    """Start WeChat web authorisation as the signed-in ``browser`` and follow WeChat's redirect
    (the fake's authorize page); returns the callback URL WeChat sends the browser back to."""
    to_wechat = browser.get(f"{shop.prefix}/wechat/authorize")
    assert to_wechat.status_code == 302, to_wechat.status_code
    location = to_wechat.headers["Location"]
    assert location.endswith("#wechat_redirect"), location
    status, headers, _body = UrllibTransport(timeout=5).request("GET", location.split("#", 1)[0], {}, b"")
    assert status == 302, status
    return headers["location"]


def wechatpay_settings(merchant, *, oauth_appsecret: str | None = None) -> dict:
    """The ``setWeChatPayConfig`` body for a :class:`~mallow.testing.wechatpay.FakeMerchant`."""
    keys = merchant.keys
    body = {
        "mchid": keys.mchid,
        "appid": keys.appid,
        "merchant_certificate_serial": keys.merchant_certificate_serial,
        "merchant_private_key": keys.merchant_private_key_pem,
        "apiv3_key": keys.apiv3_key,
        "platform_keys": [{"serial": serial, "pem": pem} for serial, pem in keys.platform_public_keys.items()],
    }
    if oauth_appsecret:
        body["oauth_appsecret"] = oauth_appsecret
    return body


def configure_wechatpay(app, shop, merchant, **kwargs) -> None:
    """Store ``merchant``'s keys as ``shop``'s WeChat Pay settings (straight through the service)."""
    from mallow.db import db
    from mallow.payments import wechat
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        wechat.save(wechatpay_settings(merchant, **kwargs), "test")
        db.session.commit()


def place_order(client, shop, token: str, address_id: int, sku_id: int, quantity: int = 1) -> dict:
    """An order through the store API (``createOrder``); returns its JSON."""
    response = client.post(
        f"{shop.prefix}/api/orders",
        headers=bearer(token),
        json={"items": [{"sku_id": sku_id, "quantity": quantity}], "address_id": address_id},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post_notification(client, shop, provider: str, notification, headers: dict | None = None):
    """POST a notification (``.body``, ``.headers``) as the provider would: raw bytes, no auth."""
    return client.post(
        f"{shop.prefix}/api/payments/{provider}/notify",
        data=notification.body,
        headers=notification.headers if headers is None else headers,
        content_type="application/json",
    )


def pay_with_sandbox(client, shop, token: str, order_id: int) -> dict:
    """``payOrder`` with the sandbox, then press *Pay* on the cashier page; returns the payOrder JSON."""
    started = client.post(
        f"{shop.prefix}/api/orders/{order_id}/pay", headers=bearer(token), json={"provider": "sandbox"}
    )
    assert started.status_code == 200, started.get_json()
    data = started.get_json()
    url = data["pay"]["url"]
    token_value = url.split("token=", 1)[1]
    pressed = post_form(client, url, {"action": "pay", "token": token_value})
    assert pressed.status_code == 303, pressed.status_code
    return data


def pay_with_wechatpay(client, shop, token: str, order_id: int, server) -> dict:
    """``payOrder`` with WeChat Pay (H5), the shopper pays at the fake WeChat Pay ``server``, and
    WeChat Pay's signed notification reaches the store: a real (not test) order. The store's
    WeChat Pay keys must be those of a merchant ``server`` knows (:func:`configure_wechatpay`).
    Returns the payOrder JSON."""
    started = client.post(
        f"{shop.prefix}/api/orders/{order_id}/pay", headers=bearer(token), json={"provider": "wechatpay", "scene": "h5"}
    )
    assert started.status_code == 200, started.get_json()
    data = started.get_json()
    out_trade_no = data["payment"]["out_trade_no"]
    server.mark_paid(out_trade_no)
    notified = post_notification(client, shop, "wechatpay", server.payment_notification(out_trade_no))
    assert notified.status_code == 204, notified.get_data(as_text=True)
    return data


def finish_wechatpay_refunds(app, client, shop, server) -> int:
    """WeChat Pay completes every refund of ``shop`` still processing and notifies the store
    (``REFUND.SUCCESS``); returns how many. (WeChat Pay answers a refund ``PROCESSING`` first.)"""
    from mallow.db import db
    from mallow.payments.models import Refund
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        numbers = (
            db.session.execute(sa.select(Refund.out_refund_no).where(Refund.status == "processing").order_by(Refund.id))
            .scalars()
            .all()
        )
    for number in numbers:
        server.complete_refund(number)
        notified = post_notification(client, shop, "wechatpay", server.refund_notification(number))
        assert notified.status_code == 204, notified.get_data(as_text=True)
    return len(numbers)
