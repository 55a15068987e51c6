"""SHA256-RSA2048 signatures of WeChat Pay API v3: outbound requests and the JSAPI ``paySign``.

Every signed message is a list of lines, each ending in ``\\n`` (the last one too):

* request:  ``METHOD\\nPATH_WITH_QUERY\\ntimestamp\\nnonce\\nbody\\n``
* response / notification: ``timestamp\\nnonce\\nbody\\n``
* ``paySign``: ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``

The signature is RSASSA-PKCS1-v1_5 with SHA-256, base64-encoded.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .keys import MerchantKeys

#: The only signature scheme of API v3, in ``Authorization`` and ``Wechatpay-Signature-Type``.
SIGNATURE_SCHEME = "WECHATPAY2-SHA256-RSA2048"
_NONCE_ALPHABET = string.ascii_uppercase + string.digits
_METHOD_RE = re.compile(r"[A-Z]{3,7}")
_AUTH_PARAM_RE = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*')
AUTHORIZATION_PARAMS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")


def generate_nonce(length: int = 32) -> str:
    """A random nonce of upper-case letters and digits (32 characters, as WeChat's SDKs use)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def current_timestamp() -> int:
    """Unix time in whole seconds."""
    return int(time.time())


def _as_body_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


def request_message(
    method: str, path_with_query: str, timestamp: int | str, nonce: str, body: bytes | str | None
) -> bytes:
    """The message an outbound request's signature covers."""
    if not _METHOD_RE.fullmatch(method):
        raise ValueError("method must be an upper-case HTTP method")
    if not path_with_query.startswith("/"):
        raise ValueError("the signed URL must be the absolute path (with its query string)")
    head = f"{method}\n{path_with_query}\n{timestamp}\n{nonce}\n".encode()
    return head + _as_body_bytes(body) + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes | str | None) -> bytes:
    """The message a response's or a notification's ``Wechatpay-Signature`` covers."""
    return f"{timestamp}\n{nonce}\n".encode() + _as_body_bytes(body) + b"\n"


def pay_sign_message(app_id: str, time_stamp: str, nonce_str: str, package: str) -> bytes:
    """The message the JSAPI ``paySign`` covers."""
    return f"{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n".encode()


def sign_sha256_rsa(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 RSASSA-PKCS1-v1_5 / SHA-256 signature of ``message``."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_sha256_rsa(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """``True`` only if ``signature_b64`` is a valid signature of ``message``; never raises."""
    try:
        signature = base64.b64decode(signature_b64.encode("ascii"), validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    except Exception:  # noqa: BLE001 -- fail closed: bad base64, wrong length, wrong type, ...
        return False
    return True


def authorization_header(
    keys: MerchantKeys,
    method: str,
    path_with_query: str,
    body: bytes | str | None,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The ``Authorization`` header of an API v3 request signed with the store's merchant key.

    ``timestamp`` and ``nonce`` default to now and a fresh random nonce; tests may fix them.
    """
    timestamp = current_timestamp() if timestamp is None else int(timestamp)
    nonce = generate_nonce() if nonce is None else nonce
    if not nonce or '"' in nonce or "\n" in nonce:
        raise ValueError("the nonce must be non-empty and contain no quote or newline")
    signature = sign_sha256_rsa(
        keys.merchant_private_key, request_message(method, path_with_query, timestamp, nonce, body)
    )
    return (
        f'{SIGNATURE_SCHEME} mchid="{keys.mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{keys.merchant_certificate_serial}"'
    )


def parse_authorization_header(value: str) -> dict[str, str]:
    """Split an ``Authorization`` header into its five parameters; ``ValueError`` if malformed.

    The inverse of :func:`authorization_header`, used by the fake server to check requests the
    way WeChat Pay does.
    """
    scheme, _, params = value.partition(" ")
    if scheme != SIGNATURE_SCHEME:
        raise ValueError("unsupported authorization scheme")
    found: dict[str, str] = {}
    for part in params.split(","):
        match = _AUTH_PARAM_RE.fullmatch(part)
        if not match:
            raise ValueError("malformed authorization parameter")
        name, param_value = match.groups()
        if name in found:
            raise ValueError(f"duplicate authorization parameter {name}")
        found[name] = param_value
    missing = [name for name in AUTHORIZATION_PARAMS if not found.get(name)]
    if missing:
        raise ValueError(f"missing authorization parameters: {', '.join(missing)}")
    return found


def jsapi_payment_params(
    keys: MerchantKeys, prepay_id: str, *, timestamp: int | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The object the page passes to ``wx.requestPayment`` (or ``WeixinJSBridge``).

    Keys: ``appId``, ``timeStamp`` (seconds, as a string), ``nonceStr``, ``package``
    (``prepay_id=…``), ``signType`` (``RSA``) and ``paySign``. The page's "ok" callback is not
    proof of payment: only a verified notification or an order query is.
    """
    if not prepay_id or "\n" in prepay_id:
        raise ValueError("prepay_id must be a non-empty single-line string")
    time_stamp = str(current_timestamp() if timestamp is None else int(timestamp))
    nonce_str = generate_nonce() if nonce is None else nonce
    if not nonce_str or "\n" in nonce_str:
        raise ValueError("the nonce must be a non-empty single-line string")
    package = f"prepay_id={prepay_id}"
    pay_sign = sign_sha256_rsa(keys.merchant_private_key, pay_sign_message(keys.appid, time_stamp, nonce_str, package))
    return {
        "appId": keys.appid,
        "timeStamp": time_stamp,
        "nonceStr": nonce_str,
        "package": package,
        "signType": "RSA",
        "paySign": pay_sign,
    }
