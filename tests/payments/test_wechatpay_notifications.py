"""Notification verification and decryption: every failure of the payments brief is refused
with its own reason code; a valid notification decrypts. Real RSA and AES-GCM throughout."""

from __future__ import annotations

import base64
import json
import time

import pytest
from werkzeug.datastructures import Headers

from mallow.payments.wechatpay import (
    MerchantKeys,
    NotificationRejected,
    PaymentNotification,
    RefundNotification,
    check_payment,
    check_refund,
    failure_body,
    parse_notification,
    verify_wechatpay_signature,
)
from mallow.payments.wechatpay.keys import public_key_to_pem
from mallow.payments.wechatpay.signing import response_message, sign_sha256_rsa
from mallow.testing.wechatpay import (
    encrypt_resource,
    generate_public_key_id,
    make_fake_merchant,
    notification_body,
    payment_notification,
    refund_notification,
    sign_headers,
    transaction_resource,
)

NOW = 1_750_000_000
ORDER = "MALLOW20250615A1"


def clock():
    return NOW


def reason_of(body, headers, keys, **kwargs) -> str:
    with pytest.raises(NotificationRejected) as caught:
        parse_notification(body, headers, keys, clock=kwargs.pop("clock", clock), **kwargs)
    return caught.value.reason_code


def signed(merchant, body: bytes, **kwargs) -> dict[str, str]:
    """Headers of a correctly signed message for ``body`` (whatever is inside it)."""
    kwargs.setdefault("timestamp", NOW)
    return sign_headers(merchant.platform_private_key, merchant.platform_serial, body, **kwargs)


def envelope_with(merchant, resource: dict, *, event_type: str = "TRANSACTION.SUCCESS", **envelope_fields) -> bytes:
    """A correctly signed-able envelope around a hand-made resource (to test the decryption layer)."""
    envelope = json.loads(notification_body(event_type, resource))
    envelope.update(envelope_fields)
    return json.dumps(envelope, separators=(",", ":")).encode()


def good_resource(merchant, **overrides) -> dict:
    return encrypt_resource(merchant.keys.apiv3_key, transaction_resource(merchant.keys, ORDER, 1999, **overrides))


@pytest.fixture
def note(merchant):
    return payment_notification(merchant, ORDER, 1999, timestamp=NOW)


# ---- the valid path ---------------------------------------------------------------------------


def test_valid_payment_notification_verifies_and_decrypts(merchant, note):
    result = parse_notification(note.body, note.headers, merchant.keys, clock=clock)

    assert isinstance(result, PaymentNotification)
    assert result.event_type == "TRANSACTION.SUCCESS"
    assert (result.out_trade_no, result.trade_state, result.amount_total_fen, result.currency) == (
        ORDER,
        "SUCCESS",
        1999,
        "CNY",
    )
    assert (result.mchid, result.appid) == (merchant.keys.mchid, merchant.keys.appid)
    assert result.payer_openid == "o-test-payer-openid"
    assert result.transaction_id and result.success_time and result.notification_id
    assert result.raw["amount"]["total"] == 1999
    check_payment(result, merchant.keys, ORDER, 1999)


def test_valid_refund_notification(merchant):
    note = refund_notification(merchant, ORDER, "RF-1", 500, 1999, timestamp=NOW)
    result = parse_notification(note.body, note.headers, merchant.keys, clock=clock)

    assert isinstance(result, RefundNotification)
    assert (result.event_type, result.refund_status, result.out_refund_no) == ("REFUND.SUCCESS", "SUCCESS", "RF-1")
    assert (result.amount_refund_fen, result.amount_total_fen, result.out_trade_no) == (500, 1999, ORDER)
    assert result.refund_id
    check_refund(result, merchant.keys, "RF-1", 500)
    for code, args in (("wrong_refund", ("RF-2", 500)), ("wrong_amount", ("RF-1", 400))):
        with pytest.raises(NotificationRejected) as caught:
            check_refund(result, merchant.keys, *args)
        assert caught.value.reason_code == code


@pytest.mark.parametrize("status", ["ABNORMAL", "CLOSED"])
def test_refund_abnormal_and_closed_events_are_typed(merchant, status):
    note = refund_notification(merchant, ORDER, "RF-9", 100, 1999, refund_status=status, timestamp=NOW)
    result = parse_notification(note.body, note.headers, merchant.keys, clock=clock)
    assert isinstance(result, RefundNotification) and result.refund_status == status


def test_refund_notification_of_another_merchant_is_refused(merchant):
    note = refund_notification(merchant, ORDER, "RF-1", 500, 1999, timestamp=NOW, mchid="1999999999")
    result = parse_notification(note.body, note.headers, merchant.keys, clock=clock)
    with pytest.raises(NotificationRejected) as caught:
        check_refund(result, merchant.keys, "RF-1")
    assert caught.value.reason_code == "wrong_mchid"


@pytest.mark.parametrize(
    "transform", [str.lower, str.upper, lambda name: name.swapcase()], ids=["lower", "upper", "swapcase"]
)
def test_header_names_are_case_insensitive(merchant, note, transform):
    headers = {transform(name): value for name, value in note.headers.items()}
    assert parse_notification(note.body, headers, merchant.keys, clock=clock).out_trade_no == ORDER


def test_werkzeug_headers_and_pair_lists_are_accepted(merchant, note):
    assert parse_notification(note.body, Headers(list(note.headers.items())), merchant.keys, clock=clock)
    assert parse_notification(note.body, list(note.headers.items()), merchant.keys, clock=clock)


def test_signature_type_header_is_optional(merchant, note):
    headers = {k: v for k, v in note.headers.items() if k != "Wechatpay-Signature-Type"}
    assert parse_notification(note.body, headers, merchant.keys, clock=clock)


def test_timestamp_exactly_300_seconds_away_is_accepted(merchant, note):
    for skew in (-300, 300):
        assert parse_notification(note.body, note.headers, merchant.keys, clock=lambda skew=skew: NOW + skew)


def test_replayed_valid_notification_still_verifies(merchant, note):
    # The signature layer cannot tell a replay: deduplication is the database's job (unique
    # transaction_id, conditional status update). Both parses give the same transaction id.
    first = parse_notification(note.body, note.headers, merchant.keys, clock=clock)
    again = parse_notification(note.body, note.headers, merchant.keys, clock=lambda: NOW + 60)
    assert first.transaction_id == again.transaction_id


def test_trusted_map_with_certificate_serial_and_public_key_id(merchant, rsa_keys):
    # During a certificate -> public-key migration notifications come signed by either key.
    cert_serial, pub_key_id = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", generate_public_key_id()
    migrating = make_fake_merchant(
        merchant_key=rsa_keys[0],
        platform_key=rsa_keys[1],
        platform_serial=pub_key_id,
        extra_platform_keys={cert_serial: rsa_keys[2].public_key()},
    )
    note = payment_notification(migrating, ORDER, 1999, timestamp=NOW)
    assert parse_notification(note.body, note.headers, migrating.keys, clock=clock)

    by_certificate = sign_headers(rsa_keys[2], cert_serial, note.body, timestamp=NOW)
    assert parse_notification(note.body, by_certificate, migrating.keys, clock=clock)

    # The certificate key's signature labelled with the public-key id: the serial picks the key.
    mislabelled = sign_headers(rsa_keys[2], pub_key_id, note.body, timestamp=NOW)
    assert reason_of(note.body, mislabelled, migrating.keys) == "bad_signature"


# ---- headers (steps 2-3) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]
)
def test_each_missing_header_is_rejected(merchant, note, missing):
    headers = {k: v for k, v in note.headers.items() if k != missing}
    assert reason_of(note.body, headers, merchant.keys) == "missing_header"
    assert reason_of(note.body, {**note.headers, missing: ""}, merchant.keys) == "missing_header"


def test_no_headers_at_all(merchant, note):
    assert reason_of(note.body, {}, merchant.keys) == "missing_header"


def test_wrong_signature_type_is_rejected(merchant, note):
    headers = {**note.headers, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}
    assert reason_of(note.body, headers, merchant.keys) == "bad_signature_type"


def test_same_header_twice_with_different_values_is_rejected(merchant, note):
    pairs = [*note.headers.items(), ("wechatpay-serial", "SOMETHING_ELSE")]
    assert reason_of(note.body, pairs, merchant.keys) == "duplicate_header"


@pytest.mark.parametrize("offset", [-301, -3600, 301, 86400], ids=["stale", "hour-old", "future", "day-ahead"])
def test_stale_and_future_timestamps_are_rejected(merchant, offset):
    note = payment_notification(merchant, ORDER, 1999, timestamp=NOW + offset)
    # The signature is valid: only freshness fails.
    assert reason_of(note.body, note.headers, merchant.keys) == "stale_timestamp"


@pytest.mark.parametrize("value", ["1750000000.0", "-1750000000", " 17 50", "0x1", "１７５００００００００"])
def test_non_numeric_timestamp_is_rejected(merchant, note, value):
    assert reason_of(note.body, {**note.headers, "Wechatpay-Timestamp": value}, merchant.keys) == "bad_timestamp"


def test_clock_is_injectable(merchant):
    note = payment_notification(merchant, ORDER, 1999)  # signed now, real clock
    assert parse_notification(note.body, note.headers, merchant.keys).out_trade_no == ORDER
    with pytest.raises(NotificationRejected) as caught:
        parse_notification(note.body, note.headers, merchant.keys, clock=lambda: time.time() + 1000)
    assert caught.value.reason_code == "stale_timestamp"


# ---- key choice and signature (steps 4-7) -----------------------------------------------------


def test_unknown_serial_is_rejected_even_with_a_valid_signature(merchant, note):
    # Signed by the real platform key but announced under another serial: the serial is
    # attacker-chosen and must not make the verifier try other keys.
    headers = sign_headers(merchant.platform_private_key, "PUB_KEY_ID_UNKNOWN", note.body, timestamp=NOW)
    assert reason_of(note.body, headers, merchant.keys) == "unknown_serial"


def test_another_stores_notification_is_rejected(merchant, other_merchant):
    # Store B's genuine notification posted to store A's notify URL: B's serial is not in A's map.
    note = payment_notification(other_merchant, ORDER, 1999, timestamp=NOW)
    assert reason_of(note.body, note.headers, merchant.keys) == "unknown_serial"


def test_signature_by_an_untrusted_key_is_rejected(merchant, note, spare_key):
    headers = sign_headers(spare_key, merchant.platform_serial, note.body, timestamp=NOW)
    assert reason_of(note.body, headers, merchant.keys) == "bad_signature"


def test_probe_signature_is_rejected(merchant, note):
    # WeChat's probes: a well-formed notification whose signature is wrong (here: a genuine
    # signature of a different message). No special case: it simply fails.
    probe = sign_sha256_rsa(merchant.platform_private_key, response_message(str(NOW), "OTHER", note.body))
    assert reason_of(note.body, {**note.headers, "Wechatpay-Signature": probe}, merchant.keys) == "bad_signature"


@pytest.mark.parametrize(
    "signature",
    [
        "not base64 at all!",
        base64.b64encode(b"\x00" * 256).decode(),
        base64.b64encode(b"short").decode(),
        "WECHATPAY/SIGNTEST/" + "A" * 300,
    ],
    ids=["garbage", "zeros", "short", "signtest-probe"],
)
def test_malformed_signatures_are_rejected(merchant, note, signature):
    assert reason_of(note.body, {**note.headers, "Wechatpay-Signature": signature}, merchant.keys) == "bad_signature"


def test_truncated_signature_is_rejected(merchant, note):
    signature = note.headers["Wechatpay-Signature"]
    assert (
        reason_of(note.body, {**note.headers, "Wechatpay-Signature": signature[:-8]}, merchant.keys) == "bad_signature"
    )


def test_tampered_body_is_rejected(merchant, note):
    tampered = note.body.replace(b'"summary":"', b'"summary":"X', 1)
    assert tampered != note.body
    assert reason_of(tampered, note.headers, merchant.keys) == "bad_signature"


def test_tampered_nonce_or_timestamp_is_rejected(merchant, note):
    assert (
        reason_of(note.body, {**note.headers, "Wechatpay-Nonce": "X" + note.headers["Wechatpay-Nonce"]}, merchant.keys)
        == "bad_signature"
    )
    assert reason_of(note.body, {**note.headers, "Wechatpay-Timestamp": str(NOW + 1)}, merchant.keys) == "bad_signature"


def test_reserialised_json_fails_the_signature(merchant, note):
    # Step 1: verify the raw bytes. A body parsed and dumped again is not what was signed.
    reserialised = json.dumps(json.loads(note.body), indent=1).encode()
    assert reason_of(reserialised, note.headers, merchant.keys) == "bad_signature"


def test_body_must_be_bytes(merchant, note):
    with pytest.raises(TypeError):
        parse_notification(note.body.decode(), note.headers, merchant.keys, clock=clock)


def test_empty_body_message_format_and_verification(merchant):
    assert response_message("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", b"") == (
        b"1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n\n"
    )
    assert response_message("1", "n", b"{}") == b"1\nn\n{}\n"
    headers = signed(merchant, b"")
    verified = verify_wechatpay_signature(b"", headers, merchant.keys, clock=clock)
    assert verified.serial == merchant.platform_serial and verified.timestamp == NOW
    with pytest.raises(NotificationRejected):
        verify_wechatpay_signature(b"\n", headers, merchant.keys, clock=clock)


# ---- envelope and resource (step 8) -----------------------------------------------------------


def test_signed_but_non_json_body_is_rejected(merchant):
    body = b"<xml>v2 notification</xml>"
    assert reason_of(body, signed(merchant, body), merchant.keys) == "malformed_body"


def test_envelope_without_resource_is_rejected(merchant):
    body = json.dumps({"event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource"}).encode()
    assert reason_of(body, signed(merchant, body), merchant.keys) == "malformed_body"


def test_unknown_event_type_is_rejected(merchant):
    body = envelope_with(merchant, good_resource(merchant), event_type="MCHTRANSFER.BILL.FINISHED")
    assert reason_of(body, signed(merchant, body), merchant.keys) == "unsupported_event"


def test_wrong_resource_type_is_rejected(merchant):
    body = envelope_with(merchant, good_resource(merchant), resource_type="plain-resource")
    assert reason_of(body, signed(merchant, body), merchant.keys) == "bad_resource"


def test_wrong_algorithm_is_rejected(merchant):
    resource = {**good_resource(merchant), "algorithm": "AEAD_AES_128_GCM"}
    body = envelope_with(merchant, resource)
    assert reason_of(body, signed(merchant, body), merchant.keys) == "bad_algorithm"


@pytest.mark.parametrize(
    "change", [{"nonce": "short"}, {"nonce": None}, {"ciphertext": 12}, {"associated_data": ["transaction"]}]
)
def test_malformed_resource_fields_are_rejected(merchant, change):
    body = envelope_with(merchant, {**good_resource(merchant), **change})
    assert reason_of(body, signed(merchant, body), merchant.keys) == "bad_resource"


def test_bad_base64_ciphertext_is_rejected(merchant):
    resource = good_resource(merchant)
    body = envelope_with(merchant, {**resource, "ciphertext": "@@" + resource["ciphertext"][2:]})
    assert reason_of(body, signed(merchant, body), merchant.keys) == "bad_ciphertext"


def test_ciphertext_shorter_than_the_tag_is_rejected(merchant):
    body = envelope_with(merchant, {**good_resource(merchant), "ciphertext": base64.b64encode(b"x" * 16).decode()})
    assert reason_of(body, signed(merchant, body), merchant.keys) == "bad_ciphertext"


def test_tampered_ciphertext_is_rejected(merchant):
    resource = good_resource(merchant)
    raw = bytearray(base64.b64decode(resource["ciphertext"]))
    raw[10] ^= 0x01
    body = envelope_with(merchant, {**resource, "ciphertext": base64.b64encode(bytes(raw)).decode()})
    assert reason_of(body, signed(merchant, body), merchant.keys) == "decrypt_failed"


def test_truncated_tag_is_rejected(merchant):
    resource = good_resource(merchant)
    raw = base64.b64decode(resource["ciphertext"])
    body = envelope_with(merchant, {**resource, "ciphertext": base64.b64encode(raw[:-4]).decode()})
    assert reason_of(body, signed(merchant, body), merchant.keys) == "decrypt_failed"


def test_tampered_associated_data_or_nonce_is_rejected(merchant):
    resource = good_resource(merchant)
    for change in ({"associated_data": "refund"}, {"associated_data": ""}, {"nonce": "A" * 12}):
        body = envelope_with(merchant, {**resource, **change})
        assert reason_of(body, signed(merchant, body), merchant.keys) == "decrypt_failed"


def test_empty_associated_data_is_allowed(merchant):
    resource = encrypt_resource(
        merchant.keys.apiv3_key, transaction_resource(merchant.keys, ORDER, 1999), associated_data=""
    )
    body = envelope_with(merchant, resource)
    assert parse_notification(body, signed(merchant, body), merchant.keys, clock=clock).out_trade_no == ORDER


def test_another_stores_apiv3_key_fails_decryption(merchant, other_merchant):
    # Correctly signed for store A, but the resource was encrypted with store B's APIv3 key.
    resource = encrypt_resource(other_merchant.keys.apiv3_key, transaction_resource(merchant.keys, ORDER, 1999))
    body = envelope_with(merchant, resource)
    assert reason_of(body, signed(merchant, body), merchant.keys) == "decrypt_failed"


@pytest.mark.parametrize(
    "plaintext", [b"not json", b"\xff\xfe\x00", b"[1, 2, 3]", b'"SUCCESS"'], ids=["text", "not-utf8", "array", "string"]
)
def test_non_json_or_non_object_plaintext_is_rejected(merchant, plaintext):
    body = envelope_with(merchant, encrypt_resource(merchant.keys.apiv3_key, plaintext))
    assert reason_of(body, signed(merchant, body), merchant.keys) == "bad_plaintext"


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": None},
        {"amount": {"total": True, "currency": "CNY"}},
        {"amount": {"total": "1999", "currency": "CNY"}},
        {"amount": {"total": 19.99, "currency": "CNY"}},
        {"trade_state": ""},
        {"mchid": 1900000109},
    ],
    ids=["no-amount", "bool", "string", "float", "empty-state", "int-mchid"],
)
def test_decrypted_payload_with_wrong_shape_is_rejected(merchant, overrides):
    body = envelope_with(merchant, good_resource(merchant, **overrides))
    assert reason_of(body, signed(merchant, body), merchant.keys) == "bad_payload"


# ---- business checks (step 9) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected_order", "expected_total", "code"),
    [
        ({"mchid": "1900000200"}, ORDER, 1999, "wrong_mchid"),
        ({"appid": "wx0000000000store2"}, ORDER, 1999, "wrong_appid"),
        ({}, "MALLOW-OTHER-ORDER", 1999, "wrong_order"),
        ({}, ORDER, 2000, "wrong_amount"),
        ({"amount": {"total": 1, "currency": "CNY"}}, ORDER, 1999, "wrong_amount"),
        ({"amount": {"total": 1999, "currency": "USD"}}, ORDER, 1999, "wrong_currency"),
        ({"amount": {"total": 1999}}, ORDER, 1999, "wrong_currency"),
        ({"trade_state": "NOTPAY"}, ORDER, 1999, "not_success"),
        ({"trade_state": "PAYERROR"}, ORDER, 1999, "not_success"),
    ],
)
def test_business_checks(merchant, overrides, expected_order, expected_total, code):
    note = payment_notification(merchant, ORDER, 1999, timestamp=NOW, **overrides)
    result = parse_notification(note.body, note.headers, merchant.keys, clock=clock)  # cryptographically fine
    with pytest.raises(NotificationRejected) as caught:
        check_payment(result, merchant.keys, expected_order, expected_total)
    assert caught.value.reason_code == code


def test_check_payment_wants_integer_fen(merchant, note):
    result = parse_notification(note.body, note.headers, merchant.keys, clock=clock)
    with pytest.raises(TypeError):
        check_payment(result, merchant.keys, ORDER, 19.99)


def test_rejections_never_leak_secrets(merchant, other_merchant):
    resource = encrypt_resource(other_merchant.keys.apiv3_key, b"{}")
    body = envelope_with(merchant, resource)
    with pytest.raises(NotificationRejected) as caught:
        parse_notification(body, signed(merchant, body), merchant.keys, clock=clock)
    text = str(caught.value) + caught.value.message
    assert merchant.keys.apiv3_key not in text and other_merchant.keys.apiv3_key not in text
    assert merchant.keys.apiv3_key not in repr(merchant.keys)


def test_failure_body_is_wechat_shaped():
    assert json.loads(failure_body("签名错误")) == {"code": "FAIL", "message": "签名错误"}


def test_keys_of_another_store_do_not_verify(merchant, other_merchant, note):
    keys_b: MerchantKeys = other_merchant.keys
    assert reason_of(note.body, note.headers, keys_b) == "unknown_serial"
    # Even if store B (wrongly) trusted A's serial with B's own platform key, A's signature fails.
    confused = MerchantKeys(
        mchid=keys_b.mchid,
        appid=keys_b.appid,
        merchant_private_key_pem=keys_b.merchant_private_key_pem,
        merchant_certificate_serial=keys_b.merchant_certificate_serial,
        apiv3_key=keys_b.apiv3_key,
        platform_public_keys={
            merchant.platform_serial: public_key_to_pem(other_merchant.platform_private_key.public_key())
        },
    )
    assert reason_of(note.body, note.headers, confused) == "bad_signature"
