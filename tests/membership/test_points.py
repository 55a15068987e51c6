"""Points (积分): earned on completed orders at the merchant's rate, redeemed at checkout (the
rate, the cap per order, whole fen, never the shipping), returned when an unpaid order is
cancelled, returned and clawed back in proportion on refunds, expiring lots (the sweep, once)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, UTC

import pytest

from mallow.testing import make_store

from .conftest import Mall, adds_up, in_store, points_adjustments


@pytest.fixture
def mall(app):
    return Mall(app, make_store(app), earn_per_yuan=1, points_per_yuan=100, redeem_cap_percent=50)


def test_a_completed_order_earns_points_at_the_rate_and_the_ledger_shows_it(mall):
    mall.program(earn_per_yuan=2)
    buyer = mall.shopper()
    sku = mall.product(price=12345)
    placed = mall.order(buyer, [(sku, 1)])
    mall.pay(buyer, placed)
    assert mall.points(buyer) == 0  # paid is not earned: completion is
    mall.complete(buyer, placed)
    assert mall.points(buyer) == 123 * 2  # ¥123.45 paid for goods: 2 points per whole yuan
    ledger = mall.ledger(buyer)
    assert ledger["total"] == 1 and ledger["points"] == 246
    [entry] = ledger["items"]
    assert (entry["kind"], entry["points"], entry["balance_after"], entry["order_id"]) == (
        "earn",
        246,
        246,
        placed["id"],
    )
    assert entry["expires_at"] is not None  # a lot, with the programme's validity


def test_no_points_while_the_programme_is_off_or_on_a_test_order(app):
    from mallow.testing.payments import pay_with_sandbox

    mall = Mall(app, make_store(app))
    buyer = mall.shopper()
    sku = mall.product(price=5000)
    mall.program(enabled=False)
    mall.bought(buyer, sku)
    assert mall.points(buyer) == 0
    mall.program(enabled=True)
    test_order = mall.order(buyer, [(sku, 1)])
    pay_with_sandbox(mall.client, mall.shop, buyer.token, test_order["id"])  # a test order: no money moved
    mall.complete(buyer, test_order)
    assert mall.points(buyer) == 0
    mall.bought(buyer, sku)
    assert mall.points(buyer) == 50


def test_redeem_at_the_rate_up_to_the_cap_and_the_receipt_adds_up(mall):
    buyer = mall.shopper()
    mall.adjust(buyer, 10_000)
    sku = mall.product(price=6000)
    quoted = mall.quote(buyer, [(sku, 1)], {"points": "max"})
    # the cap: half of ¥60 is ¥30 = 3000 points (100 points = ¥1)
    assert quoted["points"] | {"enabled": None} == {
        "enabled": None,
        "balance": 10_000,
        "usable": 3000,
        "value_fen": 3000,
        "applied": 3000,
        "applied_fen": 3000,
        "points_per_yuan": 100,
    }
    assert points_adjustments(quoted) == [("points:3000", -3000)] and quoted["total"] == 3000
    assert adds_up(quoted)

    over = mall.quote(buyer, [(sku, 1)], {"points": 3001})
    assert [p["code"] for p in over["problems"]] == ["points_over_limit"]
    refused = mall.order(buyer, [(sku, 1)], {"points": 3001}, expect=422)
    assert refused["problems"][0]["code"] == "points_over_limit"
    assert mall.points(buyer) == 10_000  # nothing written

    placed = mall.order(buyer, [(sku, 1)], {"points": 1200})
    assert points_adjustments(placed) == [("points:1200", -1200)]
    assert placed["total"] == 6000 - 1200 and adds_up(placed)
    assert mall.points(buyer) == 10_000 - 1200
    entry = mall.ledger(buyer)["items"][0]
    assert (entry["kind"], entry["points"], entry["order_id"]) == ("redeem", -1200, placed["id"])


def test_points_worth_less_than_a_fen_are_not_spent(mall):
    mall.program(points_per_yuan=1000)  # 10 points = 1 fen
    buyer = mall.shopper()
    mall.adjust(buyer, 999)
    sku = mall.product(price=10000)
    quoted = mall.quote(buyer, [(sku, 1)], {"points": 995})
    assert points_adjustments(quoted) == [("points:990", -99)]  # 990 points, 99 fen: 5 points stay
    assert mall.quote(buyer, [(sku, 1)], {"points": "max"})["points"]["usable"] == 990


def test_no_redemption_without_the_points_or_signed_out(mall):
    buyer = mall.shopper()
    sku = mall.product(price=6000)
    none = mall.quote(buyer, [(sku, 1)], {"points": "max"})
    assert points_adjustments(none) == [] and none["problems"] == [] and none["total"] == 6000
    assert mall.quote(buyer, [(sku, 1)], {"points": 100})["problems"][0]["code"] == "points_over_limit"
    assert mall.quote(buyer, [(sku, 1)], {"points": -5})["problems"][0]["code"] == "points_invalid"
    assert mall.quote(buyer, [(sku, 1)], {"points": "none"})["points"]["applied"] == 0


def test_points_never_pay_the_shipping(app):
    from mallow.db import db
    from mallow.shipping.models import ShippingTemplate

    mall = Mall(app, make_store(app), redeem_cap_percent=100)

    def template():
        row = ShippingTemplate(
            name="快递",
            mode="pieces",
            rules=[{"regions": ["*"], "first": 1, "first_fee": 800, "extra": 1, "extra_fee": 0}],
        )
        db.session.add(row)
        db.session.commit()
        return row.id

    template_id = in_store(app, mall.shop, template)
    buyer = mall.shopper()
    mall.adjust(buyer, 100_000)
    sku = mall.product(price=5000, shipping_template_id=template_id)
    quoted = mall.quote(buyer, [(sku, 1)], {"points": "max"}, province="浙江省")
    assert points_adjustments(quoted) == [("points:5000", -5000)]
    assert quoted["total"] == 800 and adds_up(quoted)  # the goods paid by points, the shipping in money


def test_a_cancelled_unpaid_order_returns_its_points(mall):
    buyer = mall.shopper()
    mall.adjust(buyer, 2000)
    sku = mall.product(price=6000)
    placed = mall.order(buyer, [(sku, 1)], {"points": 2000})
    assert mall.points(buyer) == 0
    mall.cancel(buyer, placed)
    assert mall.points(buyer) == 2000
    kinds = [(e["kind"], e["points"]) for e in mall.ledger(buyer)["items"]]
    assert kinds == [("return", 2000), ("redeem", -2000), ("adjust", 2000)]
    mall.cancel(buyer, placed, expect=409)  # already cancelled: nothing more comes back
    assert mall.points(buyer) == 2000


def test_partial_refunds_return_redeemed_points_in_proportion_never_more(mall):
    buyer = mall.shopper()
    mall.adjust(buyer, 3000)
    sku = mall.product(price=10000)
    placed = mall.order(buyer, [(sku, 1)], {"points": 3000})  # ¥30 off: ¥70 paid
    mall.pay(buyer, placed)
    assert placed["total"] == 7000
    assert mall.refund(placed, 2333) == "succeeded"  # a third of the payment
    assert mall.points(buyer) == 3000 * 2333 // 7000  # 999
    assert mall.refund(placed, 2333) == "succeeded"
    assert mall.points(buyer) == 3000 * 4666 // 7000  # 1999
    assert mall.refund(placed, 7000 - 4666) == "succeeded"  # the rest
    assert mall.points(buyer) == 3000  # all of them, and not one more
    returned = [e["points"] for e in mall.ledger(buyer)["items"] if e["kind"] == "return"]
    assert sorted(returned) == [999, 1000, 1001] and sum(returned) == 3000


def test_a_refund_after_completion_claws_back_the_earned_points(mall):
    mall.program(earn_per_yuan=10)
    buyer = mall.shopper()
    sku = mall.product(price=10000)
    placed = mall.bought(buyer, sku)
    assert mall.points(buyer) == 1000
    assert mall.refund(placed, 2500) == "succeeded"
    assert mall.points(buyer) == 750
    assert mall.refund(placed, 7500) == "succeeded"
    assert mall.points(buyer) == 0
    kinds = [(e["kind"], e["points"]) for e in mall.ledger(buyer)["items"]]
    assert kinds == [("clawback", -750), ("clawback", -250), ("earn", 1000)]


def test_a_clawback_larger_than_the_balance_leaves_it_negative_and_blocks_redemption(mall):
    mall.program(earn_per_yuan=10)
    buyer = mall.shopper()
    sku = mall.product(price=10000)
    placed = mall.bought(buyer, sku)
    other = mall.product(price=50000)
    mall.order(buyer, [(other, 1)], {"points": 500})  # spends half of the 1000 earned
    assert mall.points(buyer) == 500
    assert mall.refund(placed, 10000) == "succeeded"
    assert mall.points(buyer) == -500  # not invented: owed
    quoted = mall.quote(buyer, [(other, 1)], {"points": "max"})
    assert quoted["points"]["usable"] == 0 and points_adjustments(quoted) == []
    mall.adjust(buyer, 800)
    assert mall.points(buyer) == 300
    assert mall.quote(buyer, [(other, 1)], {"points": "max"})["points"]["usable"] == 300


def test_a_refund_before_completion_lowers_what_completion_earns(mall):
    mall.program(earn_per_yuan=1)
    buyer = mall.shopper()
    sku = mall.product(price=10000)
    placed = mall.order(buyer, [(sku, 2)])
    mall.pay(buyer, placed)
    assert mall.refund(placed, 10000) == "succeeded"  # one of the two given back
    mall.complete(buyer, placed)
    assert mall.points(buyer) == 100


def test_the_expiry_sweep_expires_soonest_lots_first_and_only_once(mall):
    from mallow.membership import service

    buyer = mall.shopper()
    mall.program(validity_days=30)
    mall.adjust(buyer, 300, "早的")
    mall.program(validity_days=60)
    mall.adjust(buyer, 500, "晚的")
    sku = mall.product(price=10000)
    mall.order(buyer, [(sku, 1)], {"points": 400})  # 300 from the soonest lot, 100 from the next
    later = datetime.now(UTC) + timedelta(days=45)
    assert in_store(mall.app, mall.shop, lambda: service.expire_points(later)) == 0  # the first lot is spent
    much_later = datetime.now(UTC) + timedelta(days=61)
    assert in_store(mall.app, mall.shop, lambda: service.expire_points(much_later)) == 400
    assert in_store(mall.app, mall.shop, lambda: service.expire_points(much_later)) == 0  # idempotent
    assert mall.points(buyer) == 0
    entry = mall.ledger(buyer)["items"][0]
    assert (entry["kind"], entry["points"], entry["balance_after"]) == ("expire", -400, 0)


def test_what_expires_soon_is_shown(mall):
    buyer = mall.shopper()
    mall.program(validity_days=10)
    mall.adjust(buyer, 120)
    mall.program(validity_days=0)  # never expires
    mall.adjust(buyer, 80)
    shown = mall.membership(buyer)
    assert shown["points"] == 200 and shown["expiring"] == 120 and shown["expiring_at"] is not None


def test_the_ledger_pages_newest_first(mall):
    buyer = mall.shopper()
    for n in range(1, 6):
        mall.adjust(buyer, n, f"第{n}次")
    page = mall.ledger(buyer, page=2, per_page=2)
    assert page["total"] == 5 and [e["points"] for e in page["items"]] == [3, 2]
    assert [e["reason"] for e in page["items"]] == ["第3次", "第2次"]


def test_the_merchants_adjustment_is_checked_and_audited(mall):
    from mallow.audit import AuditEntry
    from mallow.db import db

    buyer = mall.shopper()
    refused = mall.adjust(buyer, -1, expect=422)
    assert refused["fields"]["points"]["code"] == "insufficient"
    mall.adjust(buyer, 0, expect=422)
    mall.adjust(buyer, 10, reason="", expect=422)
    mall.call("POST", f"{mall.console}/members/999999/points", body={"points": 5, "reason": "x"}, expect=404)
    mall.adjust(buyer, 10)
    assert mall.points(buyer) == 10
    with mall.app.app_context():
        found = (
            db.session.execute(
                db.select(AuditEntry).where(
                    AuditEntry.action == "membership.points_adjusted", AuditEntry.store_id == mall.shop.store_id
                )
            )
            .scalars()
            .all()
        )
    assert [e.detail["points"] for e in found] == [10]


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)  # concurrency is PostgreSQL's
def test_concurrent_redemptions_never_overdraw(app):
    """Ten orders at once, each using 300 of 1000 points: three are placed, the others refused."""
    mall = Mall(app, make_store(app), redeem_cap_percent=100)
    buyer = mall.shopper()
    mall.adjust(buyer, 1000)
    sku = mall.product(price=1000, stock=100)
    barrier = threading.Barrier(10)
    outcomes: list[int] = []

    def worker():
        client = app.test_client()
        barrier.wait(timeout=30)
        response = client.post(
            f"{mall.shop.prefix}/api/orders",
            headers={"Authorization": f"Bearer {buyer.token}"},
            json={"items": [{"sku_id": sku, "quantity": 1}], "address_id": buyer.address, "options": {"points": 300}},
        )
        outcomes.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(outcomes)) == [201, 422] and outcomes.count(201) == 3
    assert mall.points(buyer) == 100
    redeemed = [e["points"] for e in mall.ledger(buyer)["items"] if e["kind"] == "redeem"]
    assert redeemed == [-300, -300, -300]
