"""A seeded store for the analytics tests: shoppers, orders, payments, a refund and storefront
events at known local times (Asia/Shanghai), so that every figure can be worked out by hand.

``AS_OF`` is "today" (2026-03-11); the 7- and 30-day figures are of the complete days before it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mallow.testing import make_product, make_store

CHINA = ZoneInfo("Asia/Shanghai")
AS_OF = date(2026, 3, 11)


def at(days_before: int, hour: int = 12) -> datetime:
    """``hour`` o'clock local time, ``days_before`` AS_OF, in UTC."""
    return datetime.combine(AS_OF - timedelta(days=days_before), time(hour), tzinfo=CHINA).astimezone(UTC)


def seed(app, shop) -> dict:
    from mallow.accounts.models import Customer
    from mallow.analytics import models as m
    from mallow.analytics.buffer import EventBuffer
    from mallow.analytics.recording import row
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.orders.models import Order, OrderLine
    from mallow.payments.models import Payment, Refund
    from mallow.tenants.context import store_context

    skus = {
        name: make_product(app, shop, title=title, price=price)[0]
        for name, title, price in (("P1", "羊绒围巾", 10000), ("P2", "真丝眼罩", 5000), ("P3", "手工皂", 2000))
    }
    with store_context(shop.store_id, app=app):
        products = {name: db.session.get(Sku, sku).product_id for name, sku in skus.items()}
        customers = {}
        for name in ("C1", "C2", "C3", "C4", "C5", "C6"):
            customer = Customer(login_digest=uuid.uuid4().hex, login_cipher="x", nickname=name)
            db.session.add(customer)
            db.session.flush()
            customers[name] = customer.id
        price = {"P1": 10000, "P2": 5000, "P3": 2000}
        orders = {}
        # name: customer, product, quantity, paid days before AS_OF (None: unpaid), test order
        for name, who, product, quantity, paid, test in (
            ("O1", "C1", "P1", 1, 1, False),
            ("O2", "C1", "P2", 2, 3, False),
            ("O3", "C1", "P1", 1, 20, False),
            ("O4", "C2", "P3", 1, 2, False),
            ("O5", "C3", "P1", 2, 25, False),
            ("O6", "C3", "P2", 1, 28, False),
            ("O7", "C4", "P2", 1, 40, False),
            ("O8", "C5", "P3", 3, 0, False),
            ("O9", "C6", "P1", 1, None, False),
            ("O10", "C2", "P1", 1, 1, True),
        ):
            total = price[product] * quantity
            created = at(paid if paid is not None else 1, 10)
            order = Order(
                number=f"{name}-{uuid.uuid4().hex[:12]}",
                customer_id=customers[who],
                status="paid" if paid is not None else "pending_payment",
                items_total=total,
                total=total,
                refunded_total=0,
                address_cipher="x",
                province="浙江省",
                created_at=created,
                pay_deadline=created + timedelta(minutes=30),
                paid_at=at(paid) if paid is not None else None,
                is_test=test,
            )
            order.lines.append(
                OrderLine(
                    sku_id=skus[product],
                    product_id=products[product],
                    title=product,
                    unit_price=price[product],
                    quantity=quantity,
                    total=total,
                )
            )
            db.session.add(order)
            db.session.flush()
            orders[name] = order
        o5 = orders["O5"]
        payment = Payment(
            order_id=o5.id,
            provider="sandbox",
            out_trade_no=uuid.uuid4().hex[:32],
            amount=o5.total,
            status="paid",
            paid_at=at(25),
        )
        db.session.add(payment)
        db.session.flush()
        db.session.add(
            Refund(
                order_id=o5.id,
                payment_id=payment.id,
                out_refund_no=uuid.uuid4().hex,
                amount=5000,
                status="succeeded",
                finished_at=at(5),
            )
        )
        o5.refunded_total = 5000
        db.session.commit()
        order_ids = {name: order.id for name, order in orders.items()}

    E, S = m, m
    events = [
        # v1: direct; views P1, adds it, orders O4 and pays (2 days before)
        row(E.PAGE_VIEW, "visitor-v1", at=at(2)),
        row(E.PRODUCT_VIEW, "visitor-v1", at=at(2), product_id=products["P1"]),
        row(E.ADD_TO_CART, "visitor-v1", at=at(2, 13), sku_id=skus["P1"]),
        row(E.ORDER_PLACED, "visitor-v1", at=at(2, 14), order_id=order_ids["O4"], amount=2000),
        row(E.PAYMENT, "visitor-v1", at=at(2, 14), order_id=order_ids["O4"], amount=2000),
        row(E.PAGE_VIEW, "visitor-v1", at=at(24)),
        # v2: through a share link; orders O2 and pays
        row(E.SHARE_VISIT, "visitor-v2", at=at(3), source=S.SHARE, ref="abc"),
        row(E.PAGE_VIEW, "visitor-v2", at=at(3), source=S.SHARE, ref="abc"),
        row(E.ADD_TO_CART, "visitor-v2", at=at(3, 13), sku_id=skus["P2"], source=S.SHARE, ref="abc"),
        row(
            E.ORDER_PLACED,
            "visitor-v2",
            at=at(3, 14),
            order_id=order_ids["O2"],
            amount=10000,
            source=S.SHARE,
            ref="abc",
        ),
        row(E.PAYMENT, "visitor-v2", at=at(3, 14), order_id=order_ids["O2"], amount=10000),
        # v3: a distributor's link; orders O9 and never pays
        row(E.PAGE_VIEW, "visitor-v3", at=at(4), source=S.DISTRIBUTOR, ref="d1"),
        row(E.ADD_TO_CART, "visitor-v3", at=at(4), sku_id=skus["P1"], source=S.DISTRIBUTOR, ref="d1"),
        row(
            E.ORDER_PLACED,
            "visitor-v3",
            at=at(4),
            order_id=order_ids["O9"],
            amount=10000,
            source=S.DISTRIBUTOR,
            ref="d1",
        ),
        # v4: one direct view; v5: a campaign 19 days before, adds to the cart
        row(E.PAGE_VIEW, "visitor-v4", at=at(5)),
        row(E.PAGE_VIEW, "visitor-v5", at=at(19), source=S.CAMPAIGN, ref="wx"),
        row(E.ADD_TO_CART, "visitor-v5", at=at(19), sku_id=skus["P3"], source=S.CAMPAIGN, ref="wx"),
        # v6 today, v7 long ago (outside 30 days)
        row(E.PAGE_VIEW, "visitor-v6", at=at(0)),
        row(E.PAGE_VIEW, "visitor-v7", at=at(50)),
    ]
    buffer = EventBuffer(app, flush_seconds=0)
    for event in events:
        buffer.add(shop.store_id, event)
    assert buffer.flush() == len(events)
    return {"skus": skus, "products": products, "customers": customers, "orders": order_ids}


@pytest.fixture(scope="module")
def seeded(app):
    shop = make_store(app)
    return shop, seed(app, shop)
