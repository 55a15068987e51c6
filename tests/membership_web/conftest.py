"""Helpers of the membership page tests: a store with its programme on, points and levels through
the service (as the domain's own tests do), the app's words in Chinese, and the pages' parts."""

from __future__ import annotations

import html as htmllib
import re

import sqlalchemy as sa

from mallow.testing import make_product, make_store

PROGRAM = {
    "enabled": True,
    "earn_per_yuan": 1,
    "points_per_yuan": 100,
    "redeem_cap_percent": 50,
    "validity_days": 10,
    "level_basis": "spend",
}


def html(response) -> str:
    return response.get_data(as_text=True)


def hidden(page: str) -> dict[str, str]:
    return {
        name: htmllib.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    }


def field_errors(page: str) -> dict[str, str]:
    return {
        name: htmllib.unescape(text)
        for name, text in re.findall(r'<small class="error"[^>]*data-field="([^"]+)"[^>]*>([^<]*)</small>', page)
    }


def tr(app, msgid: str, **values) -> str:
    """``msgid`` as the app shows it in Chinese (its translation, or the English source while a
    new message waits for one), HTML-escaped as a page writes it."""
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"), force_locale("zh_CN"):
        return htmllib.escape(gettext(msgid, **values), quote=False)


def in_store(app, shop, func):
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        result = func()
        db.session.commit()
        return result


def set_program(app, shop, **overrides):
    from mallow.membership import service

    return in_store(app, shop, lambda: service.update_program(PROGRAM | overrides))


def add_level(app, shop, **data):
    from mallow.membership import service

    return in_store(app, shop, lambda: service.save_level(data).id)


def grant(app, shop, customer_id: int, points: int, reason: str = "活动奖励", kind: str = "reward"):
    from mallow.membership import service

    return in_store(app, shop, lambda: service.grant(customer_id, points, kind, reason).id)


def customer_id(app, shop, login: str) -> int:
    from mallow.accounts import customers
    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.security import crypto

    def find():
        digest = crypto.digest(customers.normalise_login(login))
        return db.session.execute(sa.select(Customer.id).where(Customer.login_digest == digest)).scalar_one()

    return in_store(app, shop, find)


def balance(app, shop, cid: int) -> int:
    from mallow.membership import service

    return in_store(app, shop, lambda: service.membership_of(cid).points)


def shop_with_product(app, price: int = 6000):
    shop = make_store(app)
    [sku] = make_product(app, shop, price=price)
    return shop, sku
