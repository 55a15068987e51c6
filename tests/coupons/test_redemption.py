"""A coupon on an order: locked when placed, used when paid, the shopper's again when the unpaid
order is cancelled, given back by a full refund while still valid (not after), kept used on a
partial refund; the order keeps the coupon's adjustment (receipts show it). Claims under
concurrency never over-issue (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, UTC

import pytest

from mallow.testing import bearer, make_product, make_shopper, make_store
from mallow.testing.payments import pay_with_sandbox

from .conftest import claim, coupon_adjustments, create_coupon, holding, in_store, order


def _refund(app, shop, order_id, amount):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.payments import refunds

    return in_store(
        app, shop, lambda: refunds.refund(db.session.get(Order, order_id), amount, "退款", "staff:1").status
    )


def _setup(app, amount_fen=1000):
    client = app.test_client()
    shop = make_store(app)
    token, address = make_shopper(client, shop)
    [sku] = make_product(app, shop, price=6000)
    coupon = create_coupon(client, shop, threshold_fen=10000, amount_fen=amount_fen, name="满100减10")
    held = claim(client, shop, token, coupon["id"])
    return client, shop, token, address, sku, held


def test_placed_locks_paid_uses_and_the_receipt_shows_it(app):
    client, shop, token, address, sku, held = _setup(app)
    placed = order(client, shop, token, address, [(sku, 2)], {"coupon": held["id"]})
    assert coupon_adjustments(placed) == [("优惠券：满100减10", -1000)]
    assert placed["total"] == 12000 - 1000
    assert holding(app, shop, held["id"])["status"] == "locked"
    # locked on one order: another order cannot use it
    again = order(client, shop, token, address, [(sku, 2)], {"coupon": held["id"]}, expect=422)
    assert again["problems"][0]["code"] == "coupon_unavailable"

    pay_with_sandbox(client, shop, token, placed["id"])
    assert holding(app, shop, held["id"]) | {"valid_until": None} == {
        "status": "used",
        "order_id": placed["id"],
        "valid_until": None,
    }
    shown = client.get(f"{shop.prefix}/api/orders/{placed['id']}", headers=bearer(token)).get_json()
    assert coupon_adjustments(shown)[0][1] == -1000


def test_a_cancelled_unpaid_order_gives_the_coupon_back(app):
    client, shop, token, address, sku, held = _setup(app)
    placed = order(client, shop, token, address, [(sku, 2)], {"coupon": held["id"]})
    cancelled = client.post(f"{shop.prefix}/api/orders/{placed['id']}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200, cancelled.get_json()
    assert holding(app, shop, held["id"])["status"] == "available"
    order(client, shop, token, address, [(sku, 2)], {"coupon": held["id"]})  # usable again


def test_a_full_refund_returns_the_coupon_while_valid(app):
    client, shop, token, address, sku, held = _setup(app)
    placed = order(client, shop, token, address, [(sku, 2)], {"coupon": held["id"]})
    pay_with_sandbox(client, shop, token, placed["id"])
    assert _refund(app, shop, placed["id"], 500) == "succeeded"  # partial: stays used
    assert holding(app, shop, held["id"])["status"] == "used"
    assert _refund(app, shop, placed["id"], placed["total"] - 500) == "succeeded"
    assert holding(app, shop, held["id"])["status"] == "returned"
    # returned coupons are usable again
    second = order(client, shop, token, address, [(sku, 2)], {"coupon": held["id"]})
    assert coupon_adjustments(second)[0][1] == -1000


def test_a_full_refund_after_expiry_keeps_the_coupon_used(app):
    from mallow.coupons.models import CustomerCoupon
    from mallow.db import db

    client, shop, token, address, sku, held = _setup(app)
    placed = order(client, shop, token, address, [(sku, 2)], {"coupon": held["id"]})
    pay_with_sandbox(client, shop, token, placed["id"])

    def expire():
        db.session.get(CustomerCoupon, held["id"]).valid_until = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()

    in_store(app, shop, expire)
    assert _refund(app, shop, placed["id"], placed["total"]) == "succeeded"
    assert holding(app, shop, held["id"])["status"] == "used"


def test_an_order_without_a_coupon_costs_the_coupons_nothing(app):
    """No option, no statement of the coupons' hooks: the order's statements are the same with
    the coupons installed as the checkout's own (counted around the hooks)."""
    from mallow.coupons import pricing
    from mallow.pricing.model import PricingContext

    context = PricingContext(store_id=1, customer_id=1, lines=[], options={})
    assert pricing.mallow_order_adjustments(context, 100) is None
    assert pricing.mallow_order_placed(None, context) is None  # returns before touching the order


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)  # concurrency is PostgreSQL's
def test_twenty_concurrent_claims_never_over_issue(app):
    from mallow.accounts.models import Customer
    from mallow.coupons import service
    from mallow.coupons.models import Coupon, CustomerCoupon
    from mallow.db import db

    client = app.test_client()
    shop = make_store(app)
    coupon = create_coupon(client, shop, total_quantity=7, per_shopper_limit=2)
    shoppers = [make_shopper(client, shop)[0] for _ in range(10)]
    customer_ids = in_store(app, shop, lambda: sorted(db.session.execute(db.select(Customer.id)).scalars()))
    assert len(customer_ids) == len(shoppers)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def worker(customer_id):
        from mallow.tenants.context import store_context

        barrier.wait(timeout=30)  # all at once (the pool hands out connections as it can)
        with store_context(shop.store_id, app=app):
            try:
                service.claim(customer_id, coupon["id"])
                outcomes.append("ok")
            except service.ClaimRefused as refused:
                outcomes.append(refused.code)

    # each shopper twice at once: the limit of 2 and the total of 7 both hold
    threads = [threading.Thread(target=worker, args=(cid,)) for cid in customer_ids * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 7
    assert set(outcomes) <= {"ok", "sold_out", "limit_reached"}

    def counts():
        issued = db.session.get(Coupon, coupon["id"]).issued_count
        rows = db.session.execute(db.select(db.func.count(CustomerCoupon.id))).scalar_one()
        return issued, rows

    assert in_store(app, shop, counts) == (7, 7)
