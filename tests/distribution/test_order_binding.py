"""Binding at the order (``mallow_order_placed``): a referral code sent with the order binds the
buyer, whose paid order then earns the referrer commission; an order with no code at all (no
option, no session holding one) leaves the plugin nothing to do: no savepoint, no statement."""

from __future__ import annotations

from mallow.testing import bearer
from mallow.testing.sql import listing, statements


def test_a_code_sent_with_the_order_binds_the_buyer(mall):
    sku = mall.product(price=10000)
    promoter = mall.distributor()
    buyer = mall.shopper()
    order = mall.buy(buyer, sku, options={"distribution_ref": promoter.code})
    assert mall.paid_to(order) == {promoter.distributor_id: 1000}
    again = mall.buy(buyer, sku)  # bound now: later orders earn without the code
    assert mall.paid_to(again) == {promoter.distributor_id: 1000}


def test_an_order_without_a_code_runs_nothing_of_the_plugin(mall):
    sku = mall.product(price=10000)
    mall.distributor()
    buyer = mall.shopper()
    body = {"items": [{"sku_id": sku, "quantity": 1}], "address_id": buyer.address}
    path = f"{mall.shop.prefix}/api/orders"
    assert mall.client.post(path, headers=bearer(buyer.token), json=body).status_code == 201  # warm
    with statements() as seen:
        placed = mall.client.post(path, headers=bearer(buyer.token), json=body)
    assert placed.status_code == 201, placed.get_json()
    assert not any("SAVEPOINT" in statement or "distribution_" in statement for statement in seen), listing(seen)
    assert mall.paid_to(mall.pay(buyer.token, placed.get_json())) == {}
