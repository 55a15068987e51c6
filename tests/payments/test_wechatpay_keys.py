"""MerchantKeys: PEM loading, validation, and secrets kept out of repr."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mallow.payments.wechatpay import MerchantKeys, certificate_serial, load_platform_public_key
from mallow.payments.wechatpay.keys import load_merchant_private_key, private_key_to_pem, public_key_to_pem
from mallow.testing.wechatpay import generate_apiv3_key


def self_signed_certificate(key: rsa.RSAPrivateKey, serial: int) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_keys(rsa_keys, **overrides) -> MerchantKeys:
    fields = dict(
        mchid="1900000109",
        appid="wxd678efh567hg6787",
        merchant_private_key_pem=private_key_to_pem(rsa_keys[0]),
        merchant_certificate_serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        apiv3_key="a" * 32,
        platform_public_keys={"PUB_KEY_ID_0114232134912410000000000000": public_key_to_pem(rsa_keys[1].public_key())},
    )
    fields.update(overrides)
    return MerchantKeys(**fields)


def test_merchant_keys_load_and_expose_keys(rsa_keys):
    keys = make_keys(rsa_keys)
    assert keys.merchant_private_key.private_numbers() == rsa_keys[0].private_numbers()
    assert keys.platform_public_key("PUB_KEY_ID_0114232134912410000000000000").public_numbers() == (
        rsa_keys[1].public_key().public_numbers()
    )
    assert keys.platform_public_key("UNKNOWN") is None
    assert keys.platform_serials == {"PUB_KEY_ID_0114232134912410000000000000"}
    assert keys.apiv3_key_bytes == b"a" * 32


def test_repr_hides_secrets(rsa_keys):
    keys = make_keys(rsa_keys, apiv3_key=generate_apiv3_key())
    text = repr(keys)
    assert keys.apiv3_key not in text and "PRIVATE KEY" not in text
    assert keys.mchid in text


def test_trusted_map_cannot_be_modified(rsa_keys):
    keys = make_keys(rsa_keys)
    with pytest.raises(TypeError):
        keys.platform_public_keys["EVIL"] = public_key_to_pem(rsa_keys[2].public_key())
    with pytest.raises(AttributeError):
        keys.mchid = "1"


def test_platform_key_from_certificate_and_its_serial(rsa_keys):
    pem = self_signed_certificate(rsa_keys[1], 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1)
    assert certificate_serial(pem) == "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    assert load_platform_public_key(pem).public_numbers() == rsa_keys[1].public_key().public_numbers()
    keys = make_keys(rsa_keys, platform_public_keys={certificate_serial(pem): pem})
    assert keys.platform_public_key("5157F09EFDC096DE15EBE81A47057A7232F1B8E1") is not None


def test_pkcs1_private_key_and_bytes_pem(rsa_keys):
    pkcs1 = rsa_keys[0].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert load_merchant_private_key(pkcs1).key_size == 2048


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mchid", ""),
        ("mchid", '190"0'),
        ("appid", "wx app"),
        ("merchant_certificate_serial", "AB CD"),
        ("apiv3_key", "short"),
        ("apiv3_key", "a" * 33),
        ("platform_public_keys", {}),
        ("platform_public_keys", {"bad serial": "x"}),
        ("platform_public_keys", {"S1": "not a pem"}),
        ("merchant_private_key_pem", "not a pem"),
    ],
)
def test_invalid_configuration_is_refused(rsa_keys, field, value):
    with pytest.raises(ValueError):
        make_keys(rsa_keys, **{field: value})


def test_weak_or_non_rsa_keys_are_refused(rsa_keys):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError):
        make_keys(rsa_keys, merchant_private_key_pem=private_key_to_pem(small))
    with pytest.raises(ValueError):
        make_keys(rsa_keys, platform_public_keys={"S1": public_key_to_pem(small.public_key())})
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError):
        load_platform_public_key(ec_pem)


def test_generate_apiv3_key():
    keys = {generate_apiv3_key() for _ in range(20)}
    assert len(keys) == 20 and all(len(k) == 32 and k.isalnum() for k in keys)
