"""Commission money: pending when paid, frozen once delivered, withdrawable only after the
after-sales window (a periodic job settles), reversed pro rata by refunds, clawed back after
settlement, and paid out through withdrawals the merchant approves."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

from mallow.testing import bearer


def _now():
    return datetime.now(UTC)


def _referred_buyer(mall, price: int = 10000):
    sku = mall.product(price=price)
    distributor = mall.distributor()
    buyer = mall.shopper()
    mall.bind(buyer, distributor)
    return sku, distributor, buyer


def _statuses(mall, order) -> list[str]:
    return [row["status"] for row in mall.commissions(order)]


def test_settlement_happens_only_after_the_window(mall):
    sku, distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku)
    assert _statuses(mall, order) == ["pending"]
    assert mall.balances(distributor)["pending"] == 1000

    # paid but not delivered: the job leaves it alone, however late it runs
    mall.settle(_now() + timedelta(days=30))
    assert _statuses(mall, order) == ["pending"]

    mall.deliver(buyer, order)
    assert mall.settle(_now()) == {"accrued": 0, "frozen": 1, "settled": 0}
    [row] = mall.commissions(order)
    assert row["status"] == "frozen"
    release = datetime.fromisoformat(row["release_at"])
    assert timedelta(days=6, hours=23) < release - _now() <= timedelta(days=7)  # aftersale_window_days = 7
    assert mall.balances(distributor) | {} == {
        "pending": 0,
        "frozen": 1000,
        "withdrawable": 0,
        "withdrawing": 0,
        "withdrawn": 0,
    }

    # six days on: still inside the window
    assert mall.settle(_now() + timedelta(days=6)) == {"accrued": 0, "frozen": 0, "settled": 0}
    assert mall.balances(distributor)["withdrawable"] == 0

    # eight days on: the window is over, the job settles (once)
    assert mall.settle(_now() + timedelta(days=8)) == {"accrued": 0, "frozen": 0, "settled": 1}
    assert mall.settle(_now() + timedelta(days=9)) == {"accrued": 0, "frozen": 0, "settled": 0}
    assert _statuses(mall, order) == ["settled"]
    assert mall.balances(distributor)["withdrawable"] == 1000 and mall.balances(distributor)["frozen"] == 0
    mall.check_books()


def test_refund_inside_the_window_reverses_the_commission(mall):
    sku, distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku)
    mall.deliver(buyer, order)
    mall.settle(_now())
    assert mall.balances(distributor)["frozen"] == 1000

    mall.refund(buyer, order)  # all of it, inside the window

    [row] = mall.commissions(order)
    assert row["status"] == "reversed" and row["net"] == 0 and row["reversed_amount"] == 1000
    assert mall.settle(_now() + timedelta(days=8)) == {"accrued": 0, "frozen": 0, "settled": 0}
    assert {k: v for k, v in mall.balances(distributor).items()} == {
        "pending": 0,
        "frozen": 0,
        "withdrawable": 0,
        "withdrawing": 0,
        "withdrawn": 0,
    }
    mall.check_books()


def test_refund_before_delivery_reverses_pending(mall):
    sku, distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku)
    mall.refund(buyer, order)
    assert _statuses(mall, order) == ["reversed"]
    assert mall.balances(distributor)["pending"] == 0


def test_partial_refund_pro_rates(mall):
    sku, distributor, buyer = _referred_buyer(mall, price=5000)
    order = mall.buy(buyer, sku, quantity=2)  # 100.00 yuan: 10.00 commission
    assert order["total"] == 10000, order
    mall.deliver(buyer, order)
    mall.refund(buyer, order, amount=3000)  # 30 % back
    [row] = mall.commissions(order)
    assert row["amount"] == 1000 and row["reversed_amount"] == 300 and row["net"] == 700
    assert row["status"] == "pending"  # not frozen yet: the job has not run
    mall.settle(_now())
    assert mall.balances(distributor)["frozen"] == 700
    mall.refund(buyer, order, amount=2500)  # 55 % back in all: commission keeps 45 %
    [row] = mall.commissions(order)
    assert row["net"] == 450 and row["status"] == "frozen"
    mall.settle(_now() + timedelta(days=8))
    assert mall.balances(distributor)["withdrawable"] == 450
    mall.check_books()


def test_open_aftersale_holds_settlement(mall):
    sku, distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku)
    mall.deliver(buyer, order)
    mall.settle(_now())
    requested = mall.post(
        f"{mall.shop.prefix}/api/orders/{order['id']}/aftersales",
        buyer.token,
        {"kind": "refund_only", "reason": "少发了一件", "amount": 5000},
        expect=(201,),
    )
    # the window is over but a request is open: nothing settles
    assert mall.settle(_now() + timedelta(days=8))["settled"] == 0
    mall.post(f"{mall.shop.prefix}/api/console/aftersales/{requested['id']}/decision", mall.mtoken, {"approve": True})
    mall.finish_refunds()
    assert mall.commissions(order)[0]["net"] == 500
    assert mall.settle(_now() + timedelta(days=8))["settled"] == 1
    assert mall.balances(distributor)["withdrawable"] == 500


def test_refund_after_settlement_claws_back(mall, dist_app):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.payments import refunds as payments
    from mallow.tenants.context import store_context

    sku, distributor, buyer = _referred_buyer(mall)
    first = mall.buy(buyer, sku)
    mall.deliver(buyer, first)
    mall.settle(_now())
    mall.settle(_now() + timedelta(days=8))
    assert mall.balances(distributor)["withdrawable"] == 1000

    # the merchant refunds after the window (goodwill): the commission is clawed back
    with store_context(mall.shop.store_id, app=dist_app):
        payments.refund(db.session.get(Order, first["id"]), 10000, "goodwill", "staff:1")
    mall.finish_refunds()
    [row] = mall.commissions(first)
    assert row["status"] == "reversed" and row["net"] == 0
    assert mall.balances(distributor)["withdrawable"] == 0
    mall.check_books()


def test_clawback_can_leave_a_debt_that_later_earnings_pay(mall, dist_app):
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.payments import refunds as payments
    from mallow.tenants.context import store_context

    mall.configure(min_withdrawal=500)
    sku, distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku)
    mall.deliver(buyer, order)
    mall.settle(_now())
    mall.settle(_now() + timedelta(days=8))
    mall.post(f"{mall.api}/withdrawals", distributor.token, {"amount": 1000}, expect=(201,))
    with store_context(mall.shop.store_id, app=dist_app):
        payments.refund(db.session.get(Order, order["id"]), 10000, "goodwill", "staff:1")
    mall.finish_refunds()
    assert mall.balances(distributor)["withdrawable"] == -1000  # owed back to the store
    refused = mall.client.post(f"{mall.api}/withdrawals", headers=bearer(distributor.token), json={"amount": 500})
    assert refused.status_code == 422 and refused.get_json()["fields"]["amount"]["code"] == "above_balance"
    mall.check_books()


def test_withdrawals(mall):
    mall.configure(min_withdrawal=500)
    sku, distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku, quantity=2)
    mall.deliver(buyer, order)
    mall.settle(_now())
    mall.settle(_now() + timedelta(days=8))
    assert mall.balances(distributor)["withdrawable"] == 2000

    url = f"{mall.api}/withdrawals"
    too_small = mall.client.post(url, headers=bearer(distributor.token), json={"amount": "4.99"})
    assert too_small.status_code == 422 and too_small.get_json()["fields"]["amount"]["code"] == "below_minimum"
    too_big = mall.client.post(url, headers=bearer(distributor.token), json={"amount": 2001})
    assert too_big.status_code == 422 and too_big.get_json()["fields"]["amount"]["code"] == "above_balance"
    # a shopper who is not a distributor cannot withdraw
    assert mall.client.post(url, headers=bearer(buyer.token), json={"amount": 500}).status_code == 403

    first = mall.post(url, distributor.token, {"amount": "12.00"}, expect=(201,))
    assert first["amount"] == 1200 and first["status"] == "requested"
    assert mall.balances(distributor)["withdrawable"] == 800 and mall.balances(distributor)["withdrawing"] == 1200
    second = mall.post(url, distributor.token, {"amount": 800}, expect=(201,))

    decide = f"{mall.console_api}/withdrawals"
    missing = mall.client.post(
        f"{decide}/{first['id']}/decision",
        headers=bearer(mall.mtoken),
        json={"approve": True, "payout_method": "wechat_transfer"},
    )
    assert missing.status_code == 422 and "payout_reference" in missing.get_json()["fields"]
    paid = mall.post(
        f"{decide}/{first['id']}/decision",
        mall.mtoken,
        {"approve": True, "payout_method": "wechat_transfer", "payout_reference": "WX20261122001"},
    )
    assert paid["status"] == "paid" and paid["payout_reference"] == "WX20261122001"
    again = mall.client.post(
        f"{decide}/{first['id']}/decision", headers=bearer(mall.mtoken), json={"approve": False, "reason": "重复"}
    )
    assert again.status_code == 409
    rejected = mall.post(f"{decide}/{second['id']}/decision", mall.mtoken, {"approve": False, "reason": "请先实名认证"})
    assert rejected["status"] == "rejected"
    assert mall.balances(distributor) == {
        "pending": 0,
        "frozen": 0,
        "withdrawable": 800,
        "withdrawing": 0,
        "withdrawn": 1200,
    }
    mine = mall.get(url, distributor.token)["withdrawals"]
    assert [w["status"] for w in mine] == ["rejected", "paid"] and mine[0]["reason"] == "请先实名认证"
    mall.check_books()


def test_commission_is_on_the_paid_amount_only(mall):
    """Discounts lower the base; shipping is not commissionable; amounts are integer fen."""
    from mallow.db import db
    from mallow.orders.models import Order
    from mallow.tenants.context import store_context
    from mallow_distribution.commission import paid_amounts

    sku, _distributor, buyer = _referred_buyer(mall, price=3333)
    order = mall.buy(buyer, sku, quantity=3)
    [row] = mall.commissions(order)
    assert type(row["amount"]) is int and row["base"] == 9999 and row["amount"] == 999  # rounded down
    with store_context(mall.shop.store_id, app=mall.app):
        placed = db.session.get(Order, order["id"])
        assert sum(paid_amounts(placed).values()) <= placed.total


def test_a_refund_missed_while_disabled_is_caught_up_by_the_job(mall, dist_app):
    from mallow.testing import disable_plugin, enable_plugin

    sku, _distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku)
    disable_plugin(dist_app, mall.shop, "distribution")
    mall.refund(buyer, order, amount=5000)  # the hook does not run: the plugin is off
    enable_plugin(dist_app, mall.shop, "distribution")
    assert mall.commissions(order)[0]["net"] == 1000
    mall.settle(_now())
    assert mall.commissions(order)[0]["net"] == 500
    mall.check_books()


def test_a_suspended_distributor_keeps_and_withdraws_what_was_earned(mall):
    mall.configure(min_withdrawal=100)
    sku, distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku)
    mall.deliver(buyer, order)
    mall.settle(_now())
    mall.settle(_now() + timedelta(days=8))
    mall.post(
        f"{mall.console_api}/distributors/{distributor.distributor_id}/decision",
        mall.mtoken,
        {"approve": False, "reason": "违规宣传"},
    )
    assert mall.get(f"{mall.api}/commissions", distributor.token)["commissions"][0]["net"] == 1000
    assert mall.post(f"{mall.api}/withdrawals", distributor.token, {"amount": 1000}, expect=(201,))["amount"] == 1000
    # but the team and new referrals are gone with the suspension
    assert mall.client.get(f"{mall.api}/team", headers=bearer(distributor.token)).status_code == 403
    assert mall.bind(mall.shopper(), distributor) == {"bound": False, "reason": "not_approved"}


def test_concurrent_withdrawals_never_spend_the_balance_twice(mall, dist_app):
    """Ten requests for the whole balance at once: exactly one is accepted (the distributor's
    row lock on PostgreSQL, the single writer on SQLite)."""
    import threading

    mall.configure(min_withdrawal=100)
    sku, distributor, buyer = _referred_buyer(mall)
    order = mall.buy(buyer, sku)
    mall.deliver(buyer, order)
    mall.settle(_now())
    mall.settle(_now() + timedelta(days=8))
    codes, start = [], threading.Barrier(10)

    def ask():
        client = dist_app.test_client()
        start.wait()
        answer = client.post(f"{mall.api}/withdrawals", headers=bearer(distributor.token), json={"amount": 1000})
        codes.append(answer.status_code)

    threads = [threading.Thread(target=ask) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [201] + [422] * 9
    assert mall.balances(distributor)["withdrawable"] == 0 and mall.balances(distributor)["withdrawing"] == 1000
    mall.check_books()
