"""A held coupon that expires tomorrow: the coupons' sweep tells the shopper once (我的 → 消息,
through ``coupons.events.coupon_expiring`` and the notifications), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

from .conftest import claim, create_coupon

from mallow.testing import bearer, make_shopper, make_store


def _sweep(app, shop, at: datetime):
    from mallow.jobs.registry import execute

    return execute(app, "coupons.sweep_store", {"store_id": shop.store_id, "now": at.isoformat()})


def _expiring(client, shop, token) -> list[dict]:
    listed = client.get(f"{shop.prefix}/api/me/notifications", headers=bearer(token)).get_json()
    return [item for item in listed["items"] if item["event"] == "coupon_expiring"]


def test_a_coupon_expiring_tomorrow_is_warned_once(app):
    client = app.test_client()
    shop = make_store(app)
    token, _address = make_shopper(client, shop)
    now = datetime.now(UTC)
    # given a coupon ending in 20 hours and one ending in 5 days, both held
    soon = create_coupon(client, shop, name="周末券", ends_at=(now + timedelta(hours=20)).isoformat())
    later = create_coupon(client, shop, name="月底券", ends_at=(now + timedelta(days=5)).isoformat())
    claim(client, shop, token, soon["id"])
    claim(client, shop, token, later["id"])

    # when the expiry sweep runs a day after the claim (claimed more than a day before its end)
    # the coupon ending within 24 h is warned, the other is not
    def backdate():
        from mallow.coupons.models import CustomerCoupon
        from mallow.db import db
        from mallow.tenants.context import store_context

        with store_context(shop.store_id, app=app):
            for row in db.session.query(CustomerCoupon):
                row.claimed_at = now - timedelta(days=2)
            db.session.commit()

    backdate()
    _sweep(app, shop, now)
    [message] = _expiring(client, shop, token)
    assert message["title"] == "优惠券即将过期" and "周末券" in message["body"]
    expires = (now + timedelta(hours=20)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert expires.strftime("%Y-%m-%d") in message["body"]

    # and running the sweep again (10 minutes later) warns nobody again
    _sweep(app, shop, now + timedelta(minutes=10))
    assert len(_expiring(client, shop, token)) == 1


def test_a_coupon_claimed_within_its_last_day_is_not_warned(app):
    client = app.test_client()
    shop = make_store(app)
    token, _address = make_shopper(client, shop)
    now = datetime.now(UTC)
    # the shopper claims a coupon that ends in 3 hours: they know
    short = create_coupon(client, shop, name="限时券", ends_at=(now + timedelta(hours=3)).isoformat())
    claim(client, shop, token, short["id"])
    _sweep(app, shop, now + timedelta(minutes=1))
    assert _expiring(client, shop, token) == []
