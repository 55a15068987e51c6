"""Test kit for WeChat Pay (public, so the app's and plugins' tests can use it).

Generate throwaway keys, forge notifications exactly as WeChat Pay would, and run a local fake of
the API::

    merchant = make_fake_merchant()
    note = payment_notification(merchant, "ORDER123456", 1999)
    parse_notification(note.body, note.headers, merchant.keys)       # verifies and decrypts

    with FakeWeChatPayServer() as server:
        server.add_fake_merchant(merchant)                          # or server.add_merchant(...)
        client = WeChatPayClient(merchant.keys, base_url=server.base_url)

Modules: :mod:`.merchants` (keys and :class:`FakeMerchant`), :mod:`.forging` (signed headers,
encrypted resources, notifications), :mod:`.server` (:class:`FakeWeChatPayServer`: signatures and
test controls), :mod:`.orderbook` (its orders, refunds and API rules), :mod:`.records` (what it
keeps). RSA-2048 key generation takes tens of milliseconds: generate keys once per test module
and pass them to :func:`make_fake_merchant`.
"""

from .forging import (
    SignedNotification,
    build_notification,
    encrypt_resource,
    notification_body,
    payment_notification,
    refund_notification,
    refund_resource,
    rfc3339_now,
    sign_headers,
    sign_notification,
    transaction_resource,
)
from .merchants import (
    FakeMerchant,
    generate_apiv3_key,
    generate_certificate_serial,
    generate_public_key_id,
    generate_rsa_key,
    make_fake_merchant,
    verify_pay_sign,
)
from .records import RecordedRequest
from .server import FakeWeChatPayServer

__all__ = [
    "FakeMerchant",
    "FakeWeChatPayServer",
    "RecordedRequest",
    "SignedNotification",
    "build_notification",
    "encrypt_resource",
    "generate_apiv3_key",
    "generate_certificate_serial",
    "generate_public_key_id",
    "generate_rsa_key",
    "make_fake_merchant",
    "notification_body",
    "payment_notification",
    "refund_notification",
    "refund_resource",
    "rfc3339_now",
    "sign_headers",
    "sign_notification",
    "transaction_resource",
    "verify_pay_sign",
]
