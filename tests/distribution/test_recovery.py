"""A commission that could not be written when its order was paid is not lost: the payment
stands, and the settlement sweep accrues the commission later, exactly once."""

from __future__ import annotations

import logging
from datetime import datetime, UTC


def _fail_first_accrual(monkeypatch) -> list[int]:
    """``commission.accrue`` raises the first time it is called, then works."""
    from mallow_distribution import commission

    real, failed = commission.accrue, []

    def accrue(order, now=None):
        if not failed:
            failed.append(order.id)
            raise RuntimeError("the ledger was busy")
        return real(order, now)

    monkeypatch.setattr(commission, "accrue", accrue)
    return failed


def test_a_failed_accrual_is_caught_up_by_the_sweep_once(mall, monkeypatch, caplog):
    sku = mall.product(price=10000)
    promoter = mall.distributor()
    buyer = mall.shopper()
    mall.bind(buyer, promoter)
    failed = _fail_first_accrual(monkeypatch)

    with caplog.at_level(logging.ERROR, logger="mallow.plugins.distribution"):
        order = mall.buy(buyer, sku)
    assert order["status"] == "paid"  # the payment stands
    assert failed == [order["id"]] and mall.paid_to(order) == {}
    assert any(str(order["id"]) in r.getMessage() and r.exc_info for r in caplog.records)

    now = datetime.now(UTC)
    assert mall.settle(now)["accrued"] == 1
    assert mall.paid_to(order) == {promoter.distributor_id: 1000}
    assert mall.balances(promoter)["pending"] == 1000
    assert mall.settle(now)["accrued"] == 0  # once
    assert mall.paid_to(order) == {promoter.distributor_id: 1000}
    mall.check_books()


def test_a_missed_accrual_written_meanwhile_is_not_written_twice(mall, monkeypatch):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context
    from mallow_distribution import commission
    from mallow_distribution.models import MissedAccrual

    sku = mall.product(price=5000)
    promoter = mall.distributor()
    buyer = mall.shopper()
    mall.bind(buyer, promoter)
    _fail_first_accrual(monkeypatch)
    order = mall.buy(buyer, sku)
    with store_context(mall.shop.store_id, app=mall.app):  # e.g. a replayed payment notification
        commission.accrue(db.session.get(Order, order["id"]))
        db.session.commit()
    assert mall.paid_to(order) == {promoter.distributor_id: 500}

    assert mall.settle(datetime.now(UTC))["accrued"] == 0
    assert mall.paid_to(order) == {promoter.distributor_id: 500}
    with store_context(mall.shop.store_id, app=mall.app):
        assert db.session.execute(db.select(MissedAccrual)).scalars().all() == []  # nothing left owed
    mall.check_books()
