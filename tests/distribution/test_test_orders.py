"""A test order (paid through the sandbox: no money moved) never earns commission, neither when
it is paid nor when the settlement sweep catches up; the same purchase paid with WeChat Pay does."""

from __future__ import annotations

from datetime import datetime, UTC

from mallow.testing import enable_plugin, make_store

from .conftest import Mall


def _sandbox_mall(dist_app, client) -> Mall:
    """A store with the plugin on and no WeChat Pay: it takes payments on the sandbox cashier."""
    shop = make_store(dist_app)
    enable_plugin(dist_app, shop, "distribution")
    return Mall(dist_app, shop, client)


def test_a_test_order_earns_no_commission(dist_app, client, mall):
    # given: the same referral in a sandbox store and in a store taking WeChat Pay
    sandbox = _sandbox_mall(dist_app, client)
    for store in (sandbox, mall):
        sku = store.product(price=10000)
        promoter = store.distributor()
        buyer = store.shopper()
        store.bind(buyer, promoter)
        # when: the buyer pays
        order = store.buy(buyer, sku)
        # then: only the real order pays the referrer
        assert order["status"] == "paid"
        if store is sandbox:
            assert order["test"] is True
            assert store.commissions(order) == [] and store.balances(promoter)["pending"] == 0
        else:
            assert order["test"] is False
            assert store.paid_to(order) == {promoter.distributor_id: 1000}
        store.check_books()


def test_the_sweep_does_not_accrue_a_test_order_later(dist_app, client, monkeypatch):
    from mallow_distribution import commission

    sandbox = _sandbox_mall(dist_app, client)
    sku = sandbox.product(price=10000)
    promoter = sandbox.distributor()
    buyer = sandbox.shopper()
    sandbox.bind(buyer, promoter)
    real, failed = commission.accrue, []

    def accrue(order, now=None):  # the payment hook fails once: the order is left to the sweep
        if not failed:
            failed.append(order.id)
            raise RuntimeError("the ledger was busy")
        return real(order, now)

    monkeypatch.setattr(commission, "accrue", accrue)
    order = sandbox.buy(buyer, sku)
    assert failed == [order["id"]] and order["test"] is True
    assert sandbox.settle(datetime.now(UTC))["accrued"] == 0
    assert sandbox.commissions(order) == []
    sandbox.check_books()
