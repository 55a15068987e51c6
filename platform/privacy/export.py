"""``exportMyData``: everything the active store holds about one shopper, as JSON (PIPL art. 45).

Decrypted for the shopper themselves: the login, addresses, the address each order was shipped
to. Other capabilities add their sections through :mod:`mallow.privacy.sections`; plugins theirs
under ``"plugins"`` through ``mallow_customer_data`` (:mod:`mallow.privacy.plugin_data`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.orm import selectinload

from mallow.accounts.guards import principal
from mallow.accounts.models import Customer, CustomerSession
from mallow.aftersales.models import AfterSale
from mallow.cart.models import Cart
from mallow.catalog.models import Product, Sku
from mallow.db import db
from mallow.extensions import limiter
from mallow.orders.models import Address, Order
from mallow.payments.models import Payment
from mallow.privacy import notice, plugin_data, sections
from mallow.security import crypto
from mallow.tenants.context import current_store

FORMAT = "mallow.personal-data/1"


def _at(moment) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _decrypted(cipher: str | None) -> str:
    if not cipher:
        return ""
    try:
        return crypto.decrypt(cipher)
    except (ValueError, KeyError):  # a key rotated away: say so rather than fail the export
        return "(unreadable)"


def _snapshot(cipher: str) -> dict | str:
    raw = _decrypted(cipher)
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def profile(customer: Customer) -> dict:
    login = _decrypted(customer.login_cipher)
    return {
        "id": customer.id,
        "login": login,
        "login_kind": "email" if "@" in login else ("phone" if login else "wechat"),
        "nickname": customer.nickname,
        "wechat_openid": customer.wechat_openid,
        "has_password": customer.password_hash is not None,
        "created_at": _at(customer.created_at),
    }


def addresses(customer_id: int) -> list[dict]:
    rows = db.session.execute(sa.select(Address).where(Address.customer_id == customer_id).order_by(Address.id))
    return [
        {
            "id": a.id,
            "recipient": _decrypted(a.recipient_cipher),
            "phone": _decrypted(a.phone_cipher),
            "province": a.province,
            "city": a.city,
            "district": a.district,
            "detail": _decrypted(a.detail_cipher),
            "is_default": a.is_default,
        }
        for a in rows.scalars()
    ]


def orders(customer_id: int) -> list[dict]:
    found = list(
        db.session.execute(
            sa.select(Order)
            .where(Order.customer_id == customer_id)
            .options(selectinload(Order.lines), selectinload(Order.adjustments), selectinload(Order.events))
            .order_by(Order.id)
        ).scalars()
    )
    payments: dict[int, list[dict]] = {}
    if found:
        for p in db.session.execute(
            sa.select(Payment).where(Payment.order_id.in_([o.id for o in found])).order_by(Payment.id)
        ).scalars():
            payments.setdefault(p.order_id, []).append(
                {"provider": p.provider, "amount": p.amount, "status": p.status, "paid_at": _at(p.paid_at)}
            )
    return [
        {
            "number": o.number,
            "status": o.status,
            "items_total": o.items_total,
            "total": o.total,
            "refunded_total": o.refunded_total,
            "currency": "CNY (fen)",
            "address": _snapshot(o.address_cipher),
            "note": o.note,
            "carrier": o.carrier,
            "tracking_number": o.tracking_number,
            "created_at": _at(o.created_at),
            "paid_at": _at(o.paid_at),
            "shipped_at": _at(o.shipped_at),
            "delivered_at": _at(o.delivered_at),
            "completed_at": _at(o.completed_at),
            "lines": [
                {
                    "title": line.title,
                    "spec": line.spec_key,
                    "unit_price": line.unit_price,
                    "quantity": line.quantity,
                    "total": line.total,
                }
                for line in o.lines
            ],
            "adjustments": [
                {"source": a.source, "code": a.code, "label": a.label, "amount": a.amount} for a in o.adjustments
            ],
            "timeline": [{"kind": e.kind, "at": _at(e.at)} for e in o.events],
            "payments": payments.get(o.id, []),
        }
        for o in found
    ]


def aftersales(customer_id: int) -> list[dict]:
    rows = db.session.execute(
        sa.select(AfterSale, Order.number)
        .join(Order, Order.id == AfterSale.order_id)
        .where(AfterSale.customer_id == customer_id)
        .order_by(AfterSale.id)
    )
    return [
        {
            "order_number": number,
            "kind": a.kind,
            "status": a.status,
            "amount": a.amount,
            "reason": a.reason,
            "photos": len(a.photos or []),
            "merchant_reason": a.merchant_reason,
            "return_carrier": a.return_carrier,
            "return_tracking_number": a.return_tracking_number,
            "created_at": _at(a.created_at),
            "decided_at": _at(a.decided_at),
        }
        for a, number in rows.all()
    ]


def cart(customer_id: int) -> list[dict]:
    found = db.session.execute(
        sa.select(Cart).where(Cart.customer_id == customer_id).options(selectinload(Cart.items))
    ).scalar_one_or_none()
    if found is None or not found.items:
        return []
    titles = dict(
        db.session.execute(
            sa.select(Sku.id, Product.title)
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.id.in_([i.sku_id for i in found.items]))
        ).all()
    )
    return [
        {"sku_id": i.sku_id, "title": titles.get(i.sku_id, ""), "quantity": i.quantity, "added_at": _at(i.added_at)}
        for i in found.items
    ]


def sessions(customer_id: int) -> list[dict]:
    rows = db.session.execute(
        sa.select(CustomerSession).where(CustomerSession.customer_id == customer_id).order_by(CustomerSession.id)
    )
    return [{"via": s.via, "created_at": _at(s.created_at), "expires_at": _at(s.expires_at)} for s in rows.scalars()]


def export(customer: Customer) -> dict:
    """The whole export of ``customer`` in the active store."""
    store = current_store()
    data = {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat(),
        "store": {"slug": store.slug, "name": store.name},
        "profile": profile(customer),
        "consents": [
            {"notice_version": c.notice_version, "channel": c.channel, "consented_at": _at(c.consented_at)}
            for c in notice.consents_of(customer.id)
        ],
        "addresses": addresses(customer.id),
        "orders": orders(customer.id),
        "aftersales": aftersales(customer.id),
        "cart": cart(customer.id),
        "sessions": sessions(customer.id),
    }
    for section in sections.registered():  # points, coupons… when they exist
        if section.collect is not None:
            data[section.key] = section.collect(customer)
    data["plugins"] = plugins(customer)
    return data


def plugins(customer: Customer) -> dict:
    """``{plugin name: its section}`` from ``mallow_customer_data`` of every plugin whose tables
    exist in the store (enabled or switched off since); a plugin that failed reads
    ``{"unavailable": "<title> is unavailable right now…"}``: the shopper knows a part is missing."""
    asked = plugin_data.ask(plugin_data.EXPORT_HOOK, customer)
    found: dict = {name: answer for name, answer in asked.answers.items()}
    for name, message in asked.failed.items():
        found[name] = {"unavailable": str(message)}
    return dict(sorted(found.items()))


def filename(customer: Customer) -> str:
    return f"{current_store().slug}-my-data-{datetime.now(UTC):%Y%m%d}.json"


#: how often a shopper may download their data (one count for the page and the API)
EXPORT_RATE_LIMIT = "5 per hour"


def _export_key() -> str:
    shopper = principal("shopper")
    who = f"customer:{shopper.id}" if shopper is not None else f"ip:{request.remote_addr}"
    store = current_store()
    return f"privacy-export:{store.id if store else 0}:{who}"


def export_limits(view):
    """At most ``PRIVACY_EXPORT_RATE_LIMIT`` (default 5 an hour) exports per shopper and store."""
    return limiter.shared_limit(
        lambda: current_app.config.get("PRIVACY_EXPORT_RATE_LIMIT") or EXPORT_RATE_LIMIT,
        scope="privacy-export",
        key_func=_export_key,
        error_message="too many exports",
    )(view)
