"""The channels outside the app: e-mail (SMTP), SMS (the SMS provider), WeChat subscribe messages.

Each sender takes a :class:`~mallow.notifications.models.Notification` and the recipient's
address, and raises :class:`ChannelError` when the message did not go: ``permanent=True`` when
sending again cannot help (an address the server refuses, a template the shopper refused), so the
delivery dies at once instead of being retried.
"""

from __future__ import annotations

import json
import logging
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import urlencode

from flask import current_app

from mallow.accounts import sms
from mallow.payments import wechat_jssdk
from mallow.payments.wechatpay import TransportError, UrllibTransport
from mallow.payments.wechatpay.transport import check_base_url

log = logging.getLogger("mallow.notifications")

SUBSCRIBE_SEND_PATH = "/cgi-bin/message/subscribe/send"
#: WeChat's answers that sending again cannot mend: 43101 the user refused (or used up) the
#: subscription, 40037 / 40036 an unknown template, 47003 the data does not fit the template,
#: 40003 an openid of another app
WECHAT_PERMANENT = {"43101", "40037", "40036", "47003", "40003", "43107"}


class ChannelError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


# --- e-mail -----------------------------------------------------------------------------------


def send_email(address: str, subject: str, body: str, store) -> None:
    """One plain-text UTF-8 message over SMTP (``MALLOW_SMTP_*``)."""
    config = current_app.config
    host = config.get("MALLOW_SMTP_HOST")
    if not host:
        raise ChannelError("SMTP is not configured", permanent=True)
    message = EmailMessage()
    sender = config.get("MALLOW_SMTP_FROM") or "noreply@localhost"
    message["From"] = formataddr((str(store.name)[:60], sender))
    message["To"] = address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(body, charset="utf-8")
    port = int(config.get("MALLOW_SMTP_PORT") or 25)
    timeout = float(config.get("MALLOW_SMTP_TIMEOUT") or 10)
    try:
        if config.get("MALLOW_SMTP_SSL"):
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if config.get("MALLOW_SMTP_STARTTLS") and not config.get("MALLOW_SMTP_SSL"):
                client.starttls()
            if config.get("MALLOW_SMTP_USER"):
                client.login(config["MALLOW_SMTP_USER"], config.get("MALLOW_SMTP_PASSWORD") or "")
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise ChannelError(f"recipient refused: {_codes(exc.recipients)}", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        # 5xx: the server will not take it (bad address, message refused); 4xx: try again later
        raise ChannelError(f"SMTP {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"SMTP: {type(exc).__name__}") from None


def _codes(recipients: dict) -> str:
    return ", ".join(str(code) for code, _text in recipients.values())[:80]


# --- SMS --------------------------------------------------------------------------------------


#: what the development provider keeps (``mallow.accounts.sms.SmsOutbox``)
SmsOutbox = sms.SmsOutbox


def sms_outbox(app=None) -> SmsOutbox:
    """The texts the development SMS provider (``"log"``) kept; empty with a real gateway."""
    provider = sms.provider(app)
    if isinstance(provider, sms.LoggingSmsProvider):
        return provider.outbox
    return SmsOutbox()


def send_sms(phone: str, text: str, store) -> None:
    """A text through the app's SMS provider (``send_message`` of
    :class:`~mallow.accounts.sms.SmsProvider`); a gateway's error → try again later."""
    try:
        sms.provider().send_message(phone, text, store)
    except Exception as exc:  # noqa: BLE001 -- a gateway's own errors: try again later
        raise ChannelError(f"SMS provider: {type(exc).__name__}") from None


# --- WeChat subscribe messages ------------------------------------------------------------------


class SubscribeMessages:
    """``POST /cgi-bin/message/subscribe/send?access_token=…`` with the store's access token (the
    JS-SDK's, cached per store: :func:`mallow.payments.wechat_jssdk.for_store`). A stale token is
    dropped and fetched again once."""

    def __init__(self, signer: wechat_jssdk.WeChatJsSdk, transport=None, *, api_base_url: str, timeout: float = 5.0):
        self.signer = signer
        self.transport = transport if transport is not None else UrllibTransport(timeout=timeout)
        self.api_base_url = check_base_url(api_base_url)

    def send(self, openid: str, template_id: str, data: dict, page: str | None = None, lang: str = "zh_CN") -> None:
        body = {"touser": openid, "template_id": template_id, "data": data, "lang": lang}
        if page:
            body["page"] = page
        try:
            token = self.signer.access_token()
        except wechat_jssdk.JsSdkError as exc:
            raise ChannelError(f"access_token: {exc.code}") from None
        code, message = self._post(token, body)
        if code in wechat_jssdk.STALE_TOKEN_ERRORS:
            self.signer.cache.delete(self.signer._key("access_token"))
            try:
                token = self.signer.access_token()
            except wechat_jssdk.JsSdkError as exc:
                raise ChannelError(f"access_token: {exc.code}") from None
            code, message = self._post(token, body)
        if code == "0":
            return
        raise ChannelError(f"WeChat {code}: {message}"[:300], permanent=code in WECHAT_PERMANENT)

    def _post(self, token: str, body: dict) -> tuple[str, str]:
        url = f"{self.api_base_url}{SUBSCRIBE_SEND_PATH}?{urlencode({'access_token': token})}"
        payload = json.dumps(body, ensure_ascii=False).encode()
        try:
            status, _headers, answer = self.transport.request(
                "POST", url, {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}, payload
            )
        except TransportError:
            raise ChannelError("WeChat did not answer") from None
        try:
            data = json.loads(answer)
        except ValueError:
            raise ChannelError(f"WeChat HTTP {status}: not JSON") from None
        if status != 200 or not isinstance(data, dict):
            raise ChannelError(f"WeChat HTTP {status}")
        return str(data.get("errcode") or 0), str(data.get("errmsg") or "")[:120]


def subscribe_client(store) -> SubscribeMessages:
    """The store's subscribe-message client; :class:`ChannelError` (permanent) without WeChat."""
    try:
        signer = wechat_jssdk.for_store(store)
    except wechat_jssdk.JsSdkUnavailable:
        raise ChannelError("the store has no WeChat official account set up", permanent=True) from None
    config = current_app.config
    return SubscribeMessages(
        signer,
        config.get("WECHAT_OAUTH_TRANSPORT"),
        api_base_url=config.get("WECHAT_API_BASE_URL") or wechat_jssdk.API_BASE_URL,
        timeout=float(config.get("WECHAT_OAUTH_TIMEOUT") or 5.0),
    )


def wechat_data(notification) -> dict:
    """The template's fields: ``thing1`` the title, ``thing2`` the gist (WeChat's ``thing`` holds
    20 characters), ``character_string3`` the order number when there is one, ``time4`` when."""
    created = notification.created_at
    data = {
        "thing1": {"value": notification.title[:20]},
        "thing2": {"value": notification.body[:20]},
        "time4": {"value": created.strftime("%Y-%m-%d %H:%M") if created else ""},
    }
    number = (notification.params or {}).get("number")
    if number:
        data["character_string3"] = {"value": str(number)[:32]}
    return data
