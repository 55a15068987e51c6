"""Shopper addresses, the address book (personal data: encrypted, shown masked).

An address names its region by GB/T 2260 codes (``province_code``, ``city_code``,
``district_code``: :mod:`mallow.regions`) and keeps the names too. A form or API client that
sends codes gets them checked as a real chain (field errors on the code fields otherwise) and the
names from the dataset; one that sends names only (the checkout's quick form, older API clients)
gets them looked up, and refused when the province or the city is not found. Each shopper has at
most one default address: the first one, or the one last made default; it comes first in
:func:`of_customer`, which checkout preselects.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask.globals import _cv_app
from flask_babel import gettext as _

from mallow import regions
from mallow.db import db
from mallow.orders.models import Address
from mallow.security import crypto
from mallow.validation import CN_MOBILE_RE, Errors, ValidationFailed, text

MAX_ADDRESSES = 30
CODE_FIELDS = ("province_code", "city_code", "district_code")


def _flag(value) -> bool:
    return value is True or str(value).lower() in ("1", "true", "on", "yes")


def _clean(data) -> dict:
    """The address's columns from ``data``, or ``ValidationFailed`` naming every bad field."""
    errors = Errors()
    values = {k: text(data, k, limit) for k, limit in (("recipient", 40), ("phone", 20), ("detail", 200))}
    values["phone"] = values["phone"].replace(" ", "").replace("-", "")
    if values["phone"].startswith("+86"):
        values["phone"] = values["phone"][3:]
    if not values["recipient"]:
        errors.add("recipient", "required", _("Enter the recipient's name."))
    if not CN_MOBILE_RE.match(values["phone"]):
        errors.add("phone", "invalid", _("Enter an 11-digit mainland mobile number."))
    if not values["detail"]:
        errors.add("detail", "required", _("Enter the street address."))
    codes = [text(data, field, 12) or None for field in CODE_FIELDS]
    names = (text(data, "province", 20), text(data, "city", 30), text(data, "district", 30))
    if any(codes) or not any(names):  # the picker's codes
        chain, problems = regions.check_chain(*codes)
    else:  # names only (a client without the picker)
        chain, problems = regions.resolve_names(*names)
    for field, (code, message) in problems.items():
        errors.add(field, code, message)
    errors.raise_if_any()
    return {**values, **chain.names, **chain.codes}


def _apply(address: Address, values: dict) -> None:
    address.recipient_cipher = crypto.encrypt(values["recipient"])
    address.phone_cipher = crypto.encrypt(values["phone"])
    address.detail_cipher = crypto.encrypt(values["detail"])
    for column in ("province", "city", "district", *CODE_FIELDS):
        setattr(address, column, values[column])


def _make_default(address: Address) -> None:
    db.session.execute(
        sa.update(Address)
        .where(Address.customer_id == address.customer_id, Address.id != address.id, Address.is_default.is_(True))
        .values(is_default=False)
    )
    address.is_default = True


def create(customer_id: int, data) -> Address:
    values = _clean(data)
    count = db.session.execute(sa.select(sa.func.count(Address.id)).where(Address.customer_id == customer_id)).scalar()
    if count >= MAX_ADDRESSES:
        raise ValidationFailed(
            {"address": ("too_many", _("You can keep up to %(max)s addresses. Delete one first.", max=MAX_ADDRESSES))}
        )
    address = Address(customer_id=customer_id, is_default=False)
    _apply(address, values)
    db.session.add(address)
    db.session.flush()
    if count == 0 or _flag(data.get("is_default")):
        _make_default(address)
        db.session.flush()
    return address


def update(address: Address, data) -> Address:
    """Change every field of the address (the same checks as :func:`create`); ``is_default``
    true makes it the default (false never leaves the shopper without one: choose another)."""
    _apply(address, _clean(data))
    if _flag(data.get("is_default")):
        _make_default(address)
    db.session.flush()
    return address


def make_default(address: Address) -> None:
    _make_default(address)
    db.session.flush()


def delete(address: Address) -> None:
    """Delete it; when it was the default, the oldest remaining address becomes the default.
    Orders keep their own copy (:func:`snapshot_cipher`), so they are not affected."""
    customer_id, was_default = address.customer_id, address.is_default
    db.session.delete(address)
    db.session.flush()
    if was_default:
        following = db.session.execute(
            sa.select(Address).where(Address.customer_id == customer_id).order_by(Address.id).limit(1)
        ).scalar_one_or_none()
        if following is not None:
            following.is_default = True
            db.session.flush()


def own(customer_id: int, address_id) -> Address | None:
    """The shopper's address ``address_id``; None when it is not theirs (or not there)."""
    address = db.session.get(Address, address_id) if isinstance(address_id, int) else None
    return address if address is not None and address.customer_id == customer_id else None


def of_customer(customer_id: int) -> list[Address]:
    return list(
        db.session.execute(
            sa.select(Address).where(Address.customer_id == customer_id).order_by(Address.is_default.desc(), Address.id)
        ).scalars()
    )


def as_dict(address: Address, masked: bool = True) -> dict:
    phone = crypto.decrypt(address.phone_cipher)
    return {
        "id": address.id,
        "recipient": crypto.decrypt(address.recipient_cipher),
        "phone": crypto.mask(phone) if masked else phone,
        "province": address.province,
        "city": address.city,
        "district": address.district,
        "detail": crypto.decrypt(address.detail_cipher),
        "province_code": address.province_code,
        "city_code": address.city_code,
        "district_code": address.district_code,
        "is_default": address.is_default,
    }


#: where :func:`snapshot_cipher` keeps ``(ciphertext, snapshot)`` in the app context's ``g``
_WRITTEN = "mallow_address_snapshot"


def snapshot_cipher(address: Address) -> str:
    """The address as the order keeps it: one encrypted JSON copy, never a live reference.

    The copy is also kept with its ciphertext for the rest of the app context (the request), so
    the answer that shows the order just placed reads it back (:func:`read_snapshot`) without
    decrypting what was encrypted a moment ago."""
    snapshot = as_dict(address, masked=False)
    cipher = crypto.encrypt(json.dumps(snapshot, ensure_ascii=False))
    setattr(_cv_app.get().g, _WRITTEN, (cipher, snapshot))
    return cipher


def read_snapshot(cipher: str, masked: bool = True) -> dict:
    ctx = _cv_app.get(None)  # (``g`` read directly: its proxy costs more than the lookup)
    written = ctx.g.__dict__.get(_WRITTEN) if ctx is not None else None
    if written is not None and written[0] == cipher:  # a ciphertext is never made twice (random nonce)
        data = dict(written[1])  # what decrypting it gives (plain JSON values), a copy for the caller
    else:
        data = json.loads(crypto.decrypt(cipher))
    if masked:
        data["phone"] = crypto.mask(data["phone"])
    return data
