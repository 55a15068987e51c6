"""WeChat Pay API v3, framework-free: signing, notification verification, a small client.

Modules:

* :mod:`.keys` -- :class:`MerchantKeys` (one per store) and PEM loading.
* :mod:`.signing` -- ``Authorization`` headers and the JSAPI ``paySign``.
* :mod:`.verification` -- the ``Wechatpay-Signature`` check shared by notifications and responses.
* :mod:`.notifications` -- verify + decrypt notifications, business checks.
* :mod:`.client` -- :class:`WeChatPayClient` over an injectable HTTP transport; its parameter checks
  are :mod:`.request_checks`.
* :mod:`.transport` -- :class:`HttpTransport` and :class:`UrllibTransport`, the base URL check.

Throwaway keys, forged notifications and a fake WeChat Pay for tests are in the test kit,
:mod:`mallow.testing.wechatpay`, not here.

Money is always integer fen.
"""

from .client import WeChatPayClient
from .errors import (
    InvalidRequest,
    NotificationRejected,
    RejectionReason,
    TransportError,
    UnverifiedResponse,
    WeChatPayError,
)
from .keys import MerchantKeys, certificate_serial, load_merchant_private_key, load_platform_public_key
from .models import Refund, Transaction
from .notifications import (
    PaymentNotification,
    RefundNotification,
    check_payment,
    check_refund,
    decrypt_resource,
    failure_body,
    parse_notification,
)
from .signing import authorization_header, jsapi_payment_params
from .transport import HttpTransport, UrllibTransport
from .verification import verify_wechatpay_signature

__all__ = [
    "HttpTransport",
    "InvalidRequest",
    "MerchantKeys",
    "NotificationRejected",
    "PaymentNotification",
    "Refund",
    "RefundNotification",
    "RejectionReason",
    "Transaction",
    "TransportError",
    "UnverifiedResponse",
    "UrllibTransport",
    "WeChatPayClient",
    "WeChatPayError",
    "authorization_header",
    "certificate_serial",
    "check_payment",
    "check_refund",
    "decrypt_resource",
    "failure_body",
    "jsapi_payment_params",
    "load_merchant_private_key",
    "load_platform_public_key",
    "parse_notification",
    "verify_wechatpay_signature",
]
