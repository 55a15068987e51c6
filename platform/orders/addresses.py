"""Shopper addresses (personal data: encrypted, shown masked)."""
from __future__ import annotations

import json

import sqlalchemy as sa
from flask_babel import gettext as _

from mallow.db import db
from mallow.orders.models import Address
from mallow.security import crypto
from mallow.validation import CN_MOBILE_RE, Errors, text


def create(customer_id: int, data) -> Address:
    errors = Errors()
    values = {k: text(data, k, limit) for k, limit in
              (("recipient", 40), ("phone", 20), ("province", 20), ("city", 30), ("district", 30), ("detail", 200))}
    values["phone"] = values["phone"].replace(" ", "").replace("-", "")
    for field, message in (("recipient", _("Enter the recipient's name.")), ("province", _("Choose the province.")),
                           ("city", _("Choose the city.")), ("detail", _("Enter the street address."))):
        if not values[field]:
            errors.add(field, "required", message)
    if not CN_MOBILE_RE.match(values["phone"]):
        errors.add("phone", "invalid", _("Enter an 11-digit mainland mobile number."))
    errors.raise_if_any()
    first = db.session.execute(sa.select(Address.id).where(Address.customer_id == customer_id)).first() is None
    address = Address(customer_id=customer_id, recipient_cipher=crypto.encrypt(values["recipient"]),
                      phone_cipher=crypto.encrypt(values["phone"]), province=values["province"], city=values["city"],
                      district=values["district"], detail_cipher=crypto.encrypt(values["detail"]),
                      is_default=first or bool(data.get("is_default")))
    db.session.add(address)
    db.session.flush()
    return address


def of_customer(customer_id: int) -> list[Address]:
    return list(db.session.execute(sa.select(Address).where(Address.customer_id == customer_id)
                                   .order_by(Address.is_default.desc(), Address.id)).scalars())


def as_dict(address: Address, masked: bool = True) -> dict:
    phone = crypto.decrypt(address.phone_cipher)
    return {"id": address.id, "recipient": crypto.decrypt(address.recipient_cipher),
            "phone": crypto.mask(phone) if masked else phone, "province": address.province, "city": address.city,
            "district": address.district, "detail": crypto.decrypt(address.detail_cipher),
            "is_default": address.is_default}


def snapshot_cipher(address: Address) -> str:
    """The address as the order keeps it: one encrypted JSON copy, never a live reference."""
    return crypto.encrypt(json.dumps(as_dict(address, masked=False), ensure_ascii=False))


def read_snapshot(cipher: str, masked: bool = True) -> dict:
    data = json.loads(crypto.decrypt(cipher))
    if masked:
        data["phone"] = crypto.mask(data["phone"])
    return data
