"""Notifications send texts through the SMS provider's one interface (``send_message`` of
``mallow.accounts.sms.SmsProvider``): the development provider keeps them, a gateway gets them,
a gateway's error is tried again later."""

from __future__ import annotations

import pytest

from mallow.testing import make_store


class Gateway:
    """A gateway as an operator would plug in (``MALLOW_SMS_PROVIDER``): codes and texts."""

    name = "gateway"

    def __init__(self, app=None, fail: bool = False):
        self.codes, self.texts, self.fail = [], [], fail

    def send_code(self, phone, code, store):
        self.codes.append((store.id, phone, code))

    def send_message(self, phone, text, store):
        if self.fail:
            from mallow.accounts.sms import SmsUnavailable

            raise SmsUnavailable("gateway down")
        self.texts.append((store.id, phone, text))


def test_the_development_provider_keeps_a_notification_text(app):
    from mallow.accounts.sms import LoggingSmsProvider, provider
    from mallow.notifications.channels import send_sms, sms_outbox
    from mallow.tenants.context import store_context

    shop = make_store(app)
    with store_context(shop.store_id, app=app) as store:
        assert isinstance(provider(), LoggingSmsProvider)
        send_sms("13800138011", "您的订单已发货", store)
    assert sms_outbox(app).to("13800138011") == ["您的订单已发货"]
    assert provider(app).outbox.to("13800138011") == ["您的订单已发货"]


def test_a_gateway_gets_the_text_and_its_error_is_retried(app):
    from mallow.notifications.channels import ChannelError, send_sms, sms_outbox
    from mallow.tenants.context import store_context

    shop = make_store(app)
    kept = app.extensions.get("mallow.sms")
    try:
        app.extensions["mallow.sms"] = gateway = Gateway(app)
        with store_context(shop.store_id, app=app) as store:
            send_sms("13800138012", "拼团未成功", store)
            assert gateway.texts == [(shop.store_id, "13800138012", "拼团未成功")]
            assert sms_outbox(app).to("13800138012") == []  # a real gateway: nothing kept here
            app.extensions["mallow.sms"] = Gateway(app, fail=True)
            with pytest.raises(ChannelError) as failed:
                send_sms("13800138012", "拼团未成功", store)
            assert not failed.value.permanent
    finally:
        if kept is None:
            app.extensions.pop("mallow.sms", None)
        else:
            app.extensions["mallow.sms"] = kept
