"""Helpers of the coupon tests: coupons through the console API, shoppers, orders."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

from mallow.testing import bearer, merchant_token


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def window(days_before: int = 1, days_after: int = 30) -> dict:
    now = datetime.now(UTC)
    return {"starts_at": iso(now - timedelta(days=days_before)), "ends_at": iso(now + timedelta(days=days_after))}


def create_coupon(client, shop, token=None, expect: int = 201, **fields):
    token = token or merchant_token(client, shop)
    body = {"name": "店庆券", "kind": "amount_off", "threshold_fen": 10000, "amount_fen": 1000, "total_quantity": 100}
    body.update(window())
    body["status"] = "active"
    body.update(fields)
    response = client.post(f"{shop.prefix}/api/console/coupons", headers=bearer(token), json=body)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def claim(client, shop, token, coupon_id, expect: int = 201):
    response = client.post(f"{shop.prefix}/api/coupons/{coupon_id}/claim", headers=bearer(token))
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def quote(client, shop, token, items, options=None):
    body = {"items": [{"sku_id": s, "quantity": q} for s, q in items]}
    if options is not None:
        body["options"] = options
    response = client.post(f"{shop.prefix}/api/checkout/quote", headers=bearer(token), json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def order(client, shop, token, address, items, options=None, expect: int = 201):
    body = {"items": [{"sku_id": s, "quantity": q} for s, q in items], "address_id": address}
    if options is not None:
        body["options"] = options
    response = client.post(f"{shop.prefix}/api/orders", headers=bearer(token), json=body)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def coupon_adjustments(data) -> list[tuple[str, int]]:
    return [(a["label"], a["amount"]) for a in data["adjustments"] if a["stage"] == "coupon"]


def holding(app, shop, holding_id):
    from mallow.coupons.models import CustomerCoupon
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        row = db.session.get(CustomerCoupon, holding_id)
        return {"status": row.status, "order_id": row.order_id, "valid_until": row.valid_until}


def in_store(app, shop, func):
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return func()
