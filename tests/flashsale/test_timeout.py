"""Unpaid flash-sale orders close after the sale's short window; their units return to the sale
exactly once; a payment that arrives after the close is refunded by the core, not oversold."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from mallow.testing.payments import post_notification
from mallow.testing import bearer

from .conftest import buy, create_sale, enabled_store, in_store, make_shoppers, now, product, sale_item


def _run(app, name, **kwargs):
    from mallow.jobs.registry import execute

    return execute(app, name, kwargs)


def _order_status(app, shop, order_id):
    from mallow.db import db
    from mallow.orders.models import Order

    def read():
        order = db.session.get(Order, order_id)
        return order.status, [(e.kind, e.detail) for e in order.events]

    return in_store(app, shop, read)


def _sku_stock(app, shop, sku):
    from mallow.orders.checkout import sku_stock

    return in_store(app, shop, lambda: sku_stock(sku))


def test_unpaid_order_closes_after_five_minutes_and_units_return_once(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, stock=20)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 3}], per_order=2, per_shopper=2)
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()
    order_id = buy(client, shop, sale["id"], token, address, sku, quantity=2).get_json()["order"]["id"]
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 1 and _sku_stock(fs_app, shop, sku) == 18

    # four minutes on: still waiting for payment
    assert (
        _run(fs_app, "flashsale.sweep_store", store_id=shop.store_id, now=(now() + timedelta(minutes=4)).isoformat())[
            "closed"
        ]
        == 0
    )
    assert _order_status(fs_app, shop, order_id)[0] == "pending_payment"

    # six minutes on: closed, units back to the sale and stock back to the SKU
    later = (now() + timedelta(minutes=6)).isoformat()
    assert _run(fs_app, "flashsale.sweep_store", store_id=shop.store_id, now=later)["closed"] == 1
    status, events = _order_status(fs_app, shop, order_id)
    assert status == "cancelled" and events[-1] == ("cancelled", {"reason": "payment_timeout"})
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 3 and _sku_stock(fs_app, shop, sku) == 20

    # everyone else who could close it again changes nothing: our sweep, the core's, the shopper
    assert _run(fs_app, "flashsale.sweep_store", store_id=shop.store_id, now=later) == {
        "closed": 0,
        "settled": 0,
        "seeded": 0,
    }
    assert (
        _run(fs_app, "orders.sweep_store", store_id=shop.store_id, now=(now() + timedelta(minutes=40)).isoformat())[
            "closed"
        ]
        == 0
    )
    assert client.post(f"{shop.prefix}/api/orders/{order_id}/cancel", headers=bearer(token)).status_code == 409

    def return_again():
        from mallow.orders.models import Order
        from mallow.db import db
        from mallow_flashsale import quota

        assert quota.give_back(order_id) == []
        db.session.commit()
        return db.session.get(Order, order_id).status

    assert in_store(fs_app, shop, return_again) == "cancelled"
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 3

    # the shopper may buy again: no unpaid order holds them back any more
    assert buy(client, shop, sale["id"], token, address, sku).status_code == 201


def test_the_core_sweep_closes_it_at_the_same_deadline_and_units_still_return(fs_app):
    shop = enabled_store(fs_app, {"unpaid_minutes": 2})
    sku = product(fs_app, shop, stock=20)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 3}])
    [(token, address, _c)] = make_shoppers(fs_app, shop, 1)
    client = fs_app.test_client()
    order_id = buy(client, shop, sale["id"], token, address, sku).get_json()["order"]["id"]
    assert (
        _run(fs_app, "orders.sweep_store", store_id=shop.store_id, now=(now() + timedelta(minutes=3)).isoformat())[
            "closed"
        ]
        == 1
    )
    assert _order_status(fs_app, shop, order_id)[0] == "cancelled"
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 3
    assert (
        _run(fs_app, "flashsale.sweep_store", store_id=shop.store_id, now=(now() + timedelta(minutes=3)).isoformat())[
            "closed"
        ]
        == 0
    )


def test_shopper_cancel_returns_units(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 100, "quota": 1}])
    [(token, address, _c), (other, other_address, _o)] = make_shoppers(fs_app, shop, 2)
    client = fs_app.test_client()
    order_id = buy(client, shop, sale["id"], token, address, sku).get_json()["order"]["id"]
    sold_out = buy(client, shop, sale["id"], other, other_address, sku)
    assert sold_out.status_code == 409 and sold_out.get_json()["error"] == "sold_out"
    assert client.post(f"{shop.prefix}/api/orders/{order_id}/cancel", headers=bearer(token)).status_code == 200
    # the unit is back and the sold-out flag of this process is gone at once
    assert buy(client, shop, sale["id"], other, other_address, sku).status_code == 201


def test_a_payment_after_the_close_is_refunded_automatically(fs_app):
    shop = enabled_store(fs_app)
    sku = product(fs_app, shop, stock=20)
    sale = create_sale(fs_app, shop, [{"sku_id": sku, "sale_price": 990, "quota": 1}])
    [(token, address, _c), (other, other_address, _o)] = make_shoppers(fs_app, shop, 2)
    client = fs_app.test_client()
    order_id = buy(client, shop, sale["id"], token, address, sku).get_json()["order"]["id"]
    started = client.post(
        f"{shop.prefix}/api/orders/{order_id}/pay", headers=bearer(token), json={"provider": "sandbox"}
    )
    assert started.status_code == 200, started.get_json()

    # the unpaid window ends, the unit goes back and someone else buys it
    _run(fs_app, "flashsale.sweep_store", store_id=shop.store_id, now=(now() + timedelta(minutes=6)).isoformat())
    assert buy(client, shop, sale["id"], other, other_address, sku).status_code == 201
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 0

    # the first shopper had paid at the last second; the payment's notification arrives now:
    # recorded and refunded in full, never an oversell
    def notification():
        from types import SimpleNamespace

        from mallow.db import db
        from mallow.payments import providers, sandbox
        from mallow.payments.models import Payment

        payment = db.session.execute(sa.select(Payment).where(Payment.order_id == order_id)).scalar_one()
        body, headers = providers.get(sandbox.NAME).payment_notification(payment)
        return SimpleNamespace(body=body, headers=headers)

    assert post_notification(client, shop, "sandbox", in_store(fs_app, shop, notification)).status_code in (200, 204)
    status, events = _order_status(fs_app, shop, order_id)
    assert status == "cancelled" and "late_payment" in [kind for kind, _ in events]

    def refunds():
        from mallow.db import db
        from mallow.payments.models import Refund

        return [(r.amount, r.status) for r in db.session.execute(sa.select(Refund)).scalars()]

    assert [amount for amount, _ in in_store(fs_app, shop, refunds)] == [990]
    assert sale_item(fs_app, shop, sale["id"], sku)["remaining"] == 0
