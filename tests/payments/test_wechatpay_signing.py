"""Outbound signatures: the Authorization header and the JSAPI paySign, checked byte for byte."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mallow.payments.wechatpay import authorization_header, jsapi_payment_params
from mallow.payments.wechatpay.signing import (
    generate_nonce,
    parse_authorization_header,
    pay_sign_message,
    request_message,
    verify_sha256_rsa,
)
from mallow.testing.wechatpay import verify_pay_sign

BODY = b'{"appid":"wxd678efh567hg6787","mchid":"1900000109","description":"\xe5\x95\x86\xe5\x93\x81"}'


def verifies(public_key, message: bytes, signature_b64: str) -> bool:
    public_key.verify(base64.b64decode(signature_b64), message, padding.PKCS1v15(), hashes.SHA256())
    return True


def test_request_message_format():
    assert request_message("GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", b"") == (
        b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    )
    assert request_message("POST", "/v3/pay/transactions/jsapi", 1, "N", BODY) == (
        b"POST\n/v3/pay/transactions/jsapi\n1\nN\n" + BODY + b"\n"
    )


def test_request_message_needs_method_and_absolute_path():
    with pytest.raises(ValueError):
        request_message("get", "/v3/x", 1, "N", b"")
    with pytest.raises(ValueError):
        request_message("GET", "https://api.mch.weixin.qq.com/v3/x", 1, "N", b"")


def test_authorization_header_format_and_signature(merchant):
    keys = merchant.keys
    header = authorization_header(
        keys, "POST", "/v3/pay/transactions/jsapi", BODY, timestamp=1554208460, nonce="593BEC0C930BF1AFEB40B4A08C8FB242"
    )
    match = re.fullmatch(
        r'WECHATPAY2-SHA256-RSA2048 mchid="(\d+)",nonce_str="(\w+)",signature="([A-Za-z0-9+/=]+)",'
        r'timestamp="(\d+)",serial_no="([0-9A-F]+)"',
        header,
    )
    assert match, header
    assert match.group(1, 2, 4, 5) == (
        keys.mchid,
        "593BEC0C930BF1AFEB40B4A08C8FB242",
        "1554208460",
        keys.merchant_certificate_serial,
    )
    message = b"POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n" + BODY + b"\n"
    assert verifies(merchant.merchant_public_key, message, match.group(3))
    # RSA-2048: a 256-byte signature.
    assert len(base64.b64decode(match.group(3))) == 256


def test_query_string_is_part_of_the_signed_path(merchant):
    header = authorization_header(
        merchant.keys, "GET", "/v3/pay/transactions/out-trade-no/A1234567?mchid=1900000109", b"", timestamp=1, nonce="N"
    )
    params = parse_authorization_header(header)
    signed = b"GET\n/v3/pay/transactions/out-trade-no/A1234567?mchid=1900000109\n1\nN\n\n"
    assert verify_sha256_rsa(merchant.merchant_public_key, signed, params["signature"])
    assert not verify_sha256_rsa(
        merchant.merchant_public_key, signed.replace(b"?mchid=1900000109", b""), params["signature"]
    )


def test_default_timestamp_and_nonce_are_fresh(merchant):
    first = parse_authorization_header(authorization_header(merchant.keys, "GET", "/v3/x", b""))
    second = parse_authorization_header(authorization_header(merchant.keys, "GET", "/v3/x", b""))
    assert first["nonce_str"] != second["nonce_str"] and len(first["nonce_str"]) == 32
    assert first["timestamp"].isdigit()


def test_parse_authorization_header_round_trip_and_errors(merchant):
    header = authorization_header(merchant.keys, "GET", "/v3/x", b"", timestamp=7, nonce="ABC")
    params = parse_authorization_header(header)
    assert params["mchid"] == merchant.keys.mchid and params["timestamp"] == "7" and params["nonce_str"] == "ABC"
    for bad in (
        "",
        "Bearer x",
        'WECHATPAY2-SHA256-RSA2048 mchid="1"',
        header.replace('nonce_str="ABC"', "nonce_str=ABC"),
        header + ',mchid="2"',
    ):
        with pytest.raises(ValueError):
            parse_authorization_header(bad)


def test_nonce_cannot_break_the_header(merchant):
    with pytest.raises(ValueError):
        authorization_header(merchant.keys, "GET", "/v3/x", b"", nonce='a",mchid="666')


def test_generate_nonce():
    nonces = {generate_nonce() for _ in range(50)}
    assert len(nonces) == 50 and all(re.fullmatch(r"[A-Z0-9]{32}", n) for n in nonces)


def test_jsapi_payment_params(merchant):
    params = jsapi_payment_params(
        merchant.keys,
        "wx201410272009395522657a690389285100",
        timestamp=1414561699,
        nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    )
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == merchant.keys.appid
    assert params["timeStamp"] == "1414561699" and isinstance(params["timeStamp"], str)
    assert params["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert params["signType"] == "RSA"
    message = (
        f"{merchant.keys.appid}\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
        "prepay_id=wx201410272009395522657a690389285100\n"
    ).encode()
    assert pay_sign_message(params["appId"], params["timeStamp"], params["nonceStr"], params["package"]) == message
    assert verifies(merchant.merchant_public_key, message, params["paySign"])
    assert verify_pay_sign(params, merchant.merchant_public_key)
    assert not verify_pay_sign({**params, "package": "prepay_id=other"}, merchant.merchant_public_key)
    assert not verify_pay_sign({**params, "signType": "MD5"}, merchant.merchant_public_key)


def test_jsapi_payment_params_default_to_now(merchant):
    params = jsapi_payment_params(merchant.keys, "wx1")
    assert params["timeStamp"].isdigit() and len(params["nonceStr"]) == 32
    assert verify_pay_sign(params, merchant.merchant_public_key)
    with pytest.raises(ValueError):
        jsapi_payment_params(merchant.keys, "")


@pytest.mark.parametrize("signature", ["", "!!!", "QUJD", None, 12, "A" * 10_000])
def test_verify_never_raises(merchant, signature):
    assert verify_sha256_rsa(merchant.merchant_public_key, b"message", signature) is False
