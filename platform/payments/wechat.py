"""WeChat Pay (API v3) as a Mallow payment provider, and each store's WeChat Pay keys.

The keys of a store live in its ``payment_configs`` row ``wechatpay``: what is public (``mchid``,
``appid``, the merchant certificate serial, WeChat Pay's platform public keys by serial) in
``public``, the secrets (merchant private key, APIv3 key, the official account's AppSecret for web
authorisation) AES-GCM encrypted in ``secrets_cipher``. Secrets are write-only: :func:`summary`
says whether each is set, never what it is.

The HTTP side is the library's :class:`~mallow.payments.wechatpay.WeChatPayClient`; the app config
may inject ``WECHATPAY_BASE_URL`` (e.g. a local fake server), ``WECHATPAY_TRANSPORT`` (an
:class:`~mallow.payments.wechatpay.HttpTransport`) and ``WECHATPAY_CLOCK``. Orders are JSAPI when
the payer's openid is known (WeChat web authorisation, :mod:`mallow.payments.wechat_oauth`),
Native (a QR code, ``scene="native"``: a desktop browser) when asked for, H5 otherwise
(:mod:`mallow.payments.scenes` says which scene a browser gets).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, UTC

from flask import current_app
from flask_babel import gettext as _

from mallow.db import db
from mallow.payments.models import PaymentConfig
from mallow.payments.providers import PaymentStart, ProviderError, ProviderUnavailable
from mallow.payments.wechatpay import (
    InvalidRequest,
    MerchantKeys,
    TransportError,
    WeChatPayClient,
    WeChatPayError,
    load_merchant_private_key,
    load_platform_public_key,
    parse_notification,
)
from mallow.payments.wechatpay.client import DEFAULT_BASE_URL
from mallow.security import crypto
from mallow.validation import Errors, text

NAME = "wechatpay"
MAX_PLATFORM_KEYS = 4
SECRET_FIELDS = ("merchant_private_key", "apiv3_key", "oauth_appsecret")


def _config_row() -> PaymentConfig | None:
    return db.session.get(PaymentConfig, NAME)


def _secrets(row: PaymentConfig) -> dict:
    return json.loads(crypto.decrypt(row.secrets_cipher)) if row.secrets_cipher else {}


def merchant_keys(row: PaymentConfig | None = None) -> MerchantKeys:
    """The store's :class:`MerchantKeys`; :class:`ProviderUnavailable` when not set up or disabled."""
    row = row or _config_row()
    if row is None or not row.enabled:
        raise ProviderUnavailable(NAME)
    public, secret = row.public or {}, _secrets(row)
    try:
        return MerchantKeys(
            mchid=public["mchid"],
            appid=public["appid"],
            merchant_private_key_pem=secret["merchant_private_key"],
            merchant_certificate_serial=public["merchant_certificate_serial"],
            apiv3_key=secret["apiv3_key"],
            platform_public_keys=public["platform_public_keys"],
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ProviderUnavailable(NAME) from exc


def is_live() -> bool:
    """The store takes real money through WeChat Pay: its keys are saved and WeChat Pay is on.
    (Saving checks every key, so a saved row holds them all.) While this is true the store has
    no sandbox (:func:`mallow.payments.sandbox.availability`)."""
    row = _config_row()
    return row is not None and bool(row.enabled) and bool(row.secrets_cipher)


def oauth_credentials() -> tuple[str, str] | None:
    """``(appid, appsecret)`` of the official account, for web authorisation; None if not set."""
    row = _config_row()
    if row is None or not row.enabled:
        return None
    appid, appsecret = (row.public or {}).get("appid"), _secrets(row).get("oauth_appsecret")
    return (appid, appsecret) if appid and appsecret else None


def summary() -> dict:
    """The store's WeChat Pay settings without a single secret (for pages and the API)."""
    row = _config_row()
    if row is None:
        return {
            "configured": False,
            "enabled": False,
            "mchid": "",
            "appid": "",
            "merchant_certificate_serial": "",
            "platform_serials": [],
            "has_merchant_private_key": False,
            "has_apiv3_key": False,
            "has_oauth_appsecret": False,
            "updated_at": None,
        }
    public, secret = row.public or {}, _secrets(row)
    return {
        "configured": bool(secret.get("merchant_private_key") and secret.get("apiv3_key")),
        "enabled": row.enabled,
        "mchid": public.get("mchid", ""),
        "appid": public.get("appid", ""),
        "merchant_certificate_serial": public.get("merchant_certificate_serial", ""),
        "platform_serials": sorted((public.get("platform_public_keys") or {}).keys()),
        "has_merchant_private_key": bool(secret.get("merchant_private_key")),
        "has_apiv3_key": bool(secret.get("apiv3_key")),
        "has_oauth_appsecret": bool(secret.get("oauth_appsecret")),
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def _platform_keys(data, errors: Errors, current: dict) -> dict:
    """``platform_keys``: a list of ``{serial, pem}`` (API), or the form's ``platform_serial`` /
    ``platform_public_key`` pairs (``…_2`` for a second one during a key migration). None given:
    keep the current map."""
    pairs = []
    raw = data.get("platform_keys") if hasattr(data, "get") else None
    if isinstance(raw, list):
        for item in raw:
            if not isinstance(item, dict):
                errors.add("platform_keys", "invalid", _("Give each platform key as a serial and a PEM."))
                return current
            pairs.append((str(item.get("serial") or "").strip(), str(item.get("pem") or "").strip()))
    else:
        for suffix in ("", "_2"):
            serial, pem = text(data, f"platform_serial{suffix}", 64), text(data, f"platform_public_key{suffix}", 8000)
            if serial or pem:
                pairs.append((serial, pem))
    if not pairs:
        return current
    if len(pairs) > MAX_PLATFORM_KEYS:
        errors.add("platform_keys", "too_many", _("Give at most %(max)s platform keys.", max=MAX_PLATFORM_KEYS))
        return current
    keys = {}
    for serial, pem in pairs:
        if not serial or not pem:
            errors.add("platform_keys", "required", _("Give each platform key as a serial and a PEM."))
            return current
        keys[serial] = pem
    return keys


def save(data, actor: str) -> dict:
    """Set the store's WeChat Pay keys (owner only: the caller checks). A secret left blank keeps
    the stored one. Every key is parsed before anything is written. Returns :func:`summary`."""
    row = _config_row()
    public = dict(row.public or {}) if row else {}
    secret = _secrets(row) if row else {}
    errors = Errors()
    for name, limit in (("mchid", 32), ("appid", 32), ("merchant_certificate_serial", 64)):
        value = text(data, name, limit + 1)
        if value:
            public[name] = value
        if not public.get(name):
            errors.add(name, "required", _("This field is required."))
    public["platform_public_keys"] = _platform_keys(data, errors, public.get("platform_public_keys") or {})
    if not public["platform_public_keys"]:
        errors.add("platform_keys", "required", _("Add WeChat Pay's platform certificate or public key."))
    for name in SECRET_FIELDS:
        value = data.get(name) if hasattr(data, "get") else None
        if isinstance(value, str) and value.strip():
            secret[name] = value.strip()
    for name in ("merchant_private_key", "apiv3_key"):
        if not secret.get(name):
            errors.add(name, "required", _("This field is required."))
    errors.raise_if_any()
    try:
        load_merchant_private_key(secret["merchant_private_key"])
    except Exception:  # noqa: BLE001 -- whatever the PEM is, it is not usable
        errors.add(
            "merchant_private_key", "invalid", _("This is not an RSA private key (2048 bits or more) in PEM format.")
        )
    for pem in public["platform_public_keys"].values():
        try:
            load_platform_public_key(pem)
        except Exception:  # noqa: BLE001
            errors.add(
                "platform_keys",
                "invalid",
                _("A platform key is not an RSA public key or certificate (2048 bits or more) in PEM format."),
            )
    if len(secret["apiv3_key"].encode("utf-8")) != 32:
        errors.add("apiv3_key", "invalid", _("The APIv3 key has exactly 32 characters."))
    errors.raise_if_any()
    try:
        MerchantKeys(
            mchid=public["mchid"],
            appid=public["appid"],
            merchant_private_key_pem=secret["merchant_private_key"],
            merchant_certificate_serial=public["merchant_certificate_serial"],
            apiv3_key=secret["apiv3_key"],
            platform_public_keys=public["platform_public_keys"],
        )
    except (ValueError, TypeError) as exc:  # the library's messages never quote key material
        errors.add(
            "mchid", "invalid", _("Check the merchant number, AppID and serial numbers: %(problem)s", problem=str(exc))
        )
        errors.raise_if_any()
    enabled = data.get("enabled") if hasattr(data, "get") else None
    if row is None:
        row = PaymentConfig(provider=NAME)
        db.session.add(row)
    row.public = public
    row.secrets_cipher = crypto.encrypt(json.dumps(secret))
    if enabled is not None:  # left out: keep (a new configuration starts enabled)
        row.enabled = enabled in (True, "1", "on", "true", "y")
    elif row.enabled is None:
        row.enabled = True
    row.updated_by = actor
    row.updated_at = datetime.now(UTC)
    db.session.flush()
    return summary()


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _provider_error(exc: Exception) -> ProviderError:
    if isinstance(exc, TransportError):
        return ProviderError(exc.code, exc.message, retryable=True)
    if isinstance(exc, WeChatPayError):
        # 5xx and unverifiable answers: the outcome is unknown. 4xx: WeChat Pay refused.
        retryable = (
            exc.status == 0
            or exc.status >= 500
            or exc.code == "UNVERIFIED_RESPONSE"
            or exc.code in ("SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANKERROR")
        )
        return ProviderError(exc.code, exc.message, retryable=retryable)
    return ProviderError("INVALID_REQUEST", str(exc), retryable=False)


class WeChatPayProvider:
    name = NAME
    live = True  # real money: orders it pays are real orders

    def __init__(self, keys: MerchantKeys, client: WeChatPayClient, clock=time.time) -> None:
        self.keys, self.client, self._clock = keys, client, clock

    @property
    def mchid(self) -> str:
        return self.keys.mchid

    @property
    def appid(self) -> str:
        return self.keys.appid

    def create_payment(
        self,
        payment,
        order,
        *,
        description: str,
        notify_url: str | None,
        payer_openid: str | None,
        client_ip: str | None,
        scene: str | None,
    ) -> PaymentStart:
        if not notify_url:
            raise ProviderError("NO_NOTIFY_URL", "no https notify URL", retryable=False)
        expire = max(_as_utc(order.pay_deadline), datetime.now(UTC))
        try:
            if payment.payer_openid:
                prepay_id = self.client.create_jsapi_order(
                    payment.out_trade_no,
                    description,
                    payment.amount,
                    payment.payer_openid,
                    notify_url,
                    time_expire=expire,
                )
                return PaymentStart("jsapi", params=self.client.jsapi_payment_params(prepay_id))
            if scene == "native":
                code_url = self.client.create_native_order(
                    payment.out_trade_no, description, payment.amount, notify_url, time_expire=expire
                )
                return PaymentStart("native", url=code_url)
            h5_url = self.client.create_h5_order(
                payment.out_trade_no,
                description,
                payment.amount,
                client_ip or "127.0.0.1",
                notify_url,
                time_expire=expire,
            )
            return PaymentStart("h5", url=h5_url)
        except (WeChatPayError, InvalidRequest) as exc:
            raise _provider_error(exc) from exc

    def parse_notification(self, body: bytes, headers):
        return parse_notification(body, headers, self.keys, clock=self._clock)

    def query_payment(self, payment):
        try:
            return self.client.query_order(payment.out_trade_no)
        except (WeChatPayError, InvalidRequest) as exc:
            raise _provider_error(exc) from exc

    def close_payment(self, payment) -> None:
        try:
            self.client.close_order(payment.out_trade_no)
        except (WeChatPayError, InvalidRequest) as exc:
            raise _provider_error(exc) from exc

    def refund(self, refund, payment, *, notify_url: str | None):
        try:
            reason = " ".join((refund.reason or "").split())[:80] or None  # one line, as WeChat Pay wants
            return self.client.refund(
                payment.out_trade_no, refund.out_refund_no, refund.amount, payment.amount, reason, notify_url
            )
        except (WeChatPayError, InvalidRequest) as exc:
            raise _provider_error(exc) from exc

    def query_refund(self, refund):
        try:
            return self.client.query_refund(refund.out_refund_no)
        except (WeChatPayError, InvalidRequest) as exc:
            raise _provider_error(exc) from exc


def factory(store) -> WeChatPayProvider:
    keys = merchant_keys()
    config = current_app.config
    clock = config.get("WECHATPAY_CLOCK") or time.time
    client = WeChatPayClient(
        keys,
        transport=config.get("WECHATPAY_TRANSPORT"),
        base_url=config.get("WECHATPAY_BASE_URL") or DEFAULT_BASE_URL,
        clock=clock,
    )
    return WeChatPayProvider(keys, client, clock=clock)
