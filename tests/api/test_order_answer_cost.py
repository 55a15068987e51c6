"""The answer that shows an order just placed reads its address snapshot back without decrypting
it (``orders/addresses.py``): :func:`snapshot_cipher` keeps the copy it encrypted, with its
ciphertext, in the app context's ``g``, and :func:`read_snapshot` of that very ciphertext answers
a copy of it. Any other ciphertext, or the same one in another app context, is decrypted as
before; the encrypted text itself is unchanged."""

from __future__ import annotations

import json

from flask import Flask

from mallow import models  # noqa: F401  (every table known: an Address is made below)
from mallow.orders import addresses
from mallow.orders.models import Address
from mallow.security import crypto


def _app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="a secret key", MALLOW_DATA_KEY=None)
    return app


def _address() -> Address:
    return Address(
        id=7,
        customer_id=3,
        recipient_cipher=crypto.encrypt("张三"),
        phone_cipher=crypto.encrypt("13812345678"),
        province="上海市",
        city="上海市",
        district="浦东新区",
        detail_cipher=crypto.encrypt("世纪大道 100 号"),
        province_code="310000",
        city_code="310100",
        district_code=None,
        is_default=True,
    )


def _counting_decrypt(monkeypatch) -> list[str]:
    opened: list[str] = []
    real = crypto.decrypt

    def decrypt(token: str) -> str:
        opened.append(token)
        return real(token)

    monkeypatch.setattr(crypto, "decrypt", decrypt)
    return opened


def test_the_snapshot_written_is_the_same_json_encrypted():
    with _app().app_context():
        address = _address()
        cipher = addresses.snapshot_cipher(address)
        assert crypto.decrypt(cipher) == json.dumps(addresses.as_dict(address, masked=False), ensure_ascii=False)


def test_the_snapshot_just_written_is_read_back_without_decrypting(monkeypatch):
    app = _app()
    with app.app_context():
        cipher = addresses.snapshot_cipher(_address())
        opened = _counting_decrypt(monkeypatch)
        first = addresses.read_snapshot(cipher)
        first["city"] = "changed by the caller"
        again = addresses.read_snapshot(cipher)
        plain = addresses.read_snapshot(cipher, masked=False)
        assert opened == []
    with app.app_context():  # another request: nothing kept, decrypted
        assert addresses.read_snapshot(cipher) == again
        assert addresses.read_snapshot(cipher, masked=False) == plain
        assert opened == [cipher, cipher]
    assert again["phone"] == "138****5678" and plain["phone"] == "13812345678"
    assert again["city"] == "上海市"
    assert list(plain) == [  # the same keys, in their order
        "id",
        "recipient",
        "phone",
        "province",
        "city",
        "district",
        "detail",
        "province_code",
        "city_code",
        "district_code",
        "is_default",
    ]


def test_another_ciphertext_is_decrypted(monkeypatch):
    with _app().app_context():
        address = _address()
        earlier = addresses.snapshot_cipher(address)
        later = addresses.snapshot_cipher(address)
        assert earlier != later  # a fresh nonce each time
        opened = _counting_decrypt(monkeypatch)
        assert addresses.read_snapshot(earlier) == addresses.read_snapshot(later)
        assert opened == [earlier]
