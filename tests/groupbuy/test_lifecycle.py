"""Groups from opening to success or failure, on SQLite and PostgreSQL, through Mallow's order API
and the sandbox payment provider; the deadline sweep is run with time moved forward."""

from __future__ import annotations

from datetime import datetime, timedelta, UTC

import sqlalchemy as sa

from mallow.testing import bearer
from tests.groupbuy.conftest import now


def _events(mall, group_id: int) -> list[str]:
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_groupbuy.models import Event

    with store_context(mall.shop.store_id, app=mall.app):
        return list(
            db.session.execute(sa.select(Event.kind).where(Event.group_id == group_id).order_by(Event.id)).scalars()
        )


def test_a_three_person_group_that_fills_succeeds_and_settles_at_the_final_tier(mall):
    # given a 3-person campaign with a ladder: 2 people 95 %, 3 people 90 %
    [sku] = mall.product(price=10000, stock=20)
    campaign = mall.campaign([sku])
    leader, second, third = mall.shopper(), mall.shopper(), mall.shopper()

    # when the leader opens the group by paying, and two friends join through it
    first = mall.buy(leader, sku, campaign)
    group_id = mall.group_of(first)
    assert mall.public_group(group_id)["status"] == "open"
    joined = mall.buy(second, sku, campaign, group_id)
    last = mall.buy(third, sku, campaign, group_id)

    # then each paid the tier of their seat, and the third payment completed the group
    assert [first["total"], joined["total"], last["total"]] == [9500, 9500, 9000]
    assert all(o["status"] == "paid" for o in (first, joined, last))
    group = mall.group(group_id)
    assert group["status"] == "succeeded" and group["headcount"] == 3 and group["final_percent"] == "90%"
    assert "groupbuy_succeeded" in [e["kind"] for e in mall.order_of(third, last)["timeline"]]

    # and the sweep gives the first two the difference to the final tier through the provider
    mall.sweep(now())
    assert mall.order_of(leader, first)["refunded_total"] == 500
    assert mall.order_of(second, joined)["refunded_total"] == 500
    assert mall.order_of(third, last)["refunded_total"] == 0
    assert [r["status"] for m in mall.group(group_id)["members"] for r in m["refunds"]] == ["done", "done"]
    mall.sweep(now() + timedelta(hours=2))  # idempotent: nothing is refunded twice
    assert mall.order_of(leader, first)["refunded_total"] == 500

    # and the orders go on to shipping
    shipped = mall.post(
        f"{mall.shop.prefix}/api/console/orders/{first['id']}/ship",
        mall.mtoken,
        {"carrier": "顺丰速运", "tracking_number": "SF100"},
    )
    assert shipped["status"] == "shipped"
    public = mall.public_group(group_id)
    assert len(public["members"]) == 3 and public["status"] == "succeeded"
    assert ["group_opened", "member_joined", "member_joined", "group_succeeded"] == [
        k for k in _events(mall, group_id) if k.startswith(("group_", "member_joined"))
    ]


def test_a_group_that_expires_refunds_every_member_and_returns_the_stock(mall):
    # given a group with two paid members and one who ordered but has not paid yet
    [sku] = mall.product(price=8800, stock=10)
    campaign = mall.campaign([sku], per_shopper_limit=1)
    leader, friend, slow = mall.shopper(), mall.shopper(), mall.shopper()
    first = mall.buy(leader, sku, campaign)
    group_id = mall.group_of(first)
    second = mall.buy(friend, sku, campaign, group_id)
    unpaid = mall.order(slow, sku, campaign, group_id)
    assert mall.stock(sku) == 7 and mall.campaign_row(campaign)["sold"] == 3

    # when the sweep runs before the deadline nothing happens
    mall.sweep(now() + timedelta(hours=23))
    assert mall.group(group_id)["status"] == "open"

    # when it runs after the 24-hour window
    outcome = mall.sweep(now() + timedelta(hours=24, minutes=1))

    # then the group failed, every paid member got everything back through the provider
    assert outcome["failed"] == 1
    assert mall.group(group_id)["status"] == "failed"
    for person, order in ((leader, first), (friend, second)):
        refunded = mall.order_of(person, order)
        assert refunded["status"] == "closed" and refunded["refunded_total"] == refunded["total"] == 8360
        assert any(
            e["kind"] == "refund_requested" and e["detail"]["reason"].startswith("groupbuy:full:")
            for e in refunded["timeline"]
        )
    # the unpaid order was cancelled, and all the stock and campaign units are back
    assert mall.order_of(slow, unpaid)["status"] == "cancelled"
    assert mall.stock(sku) == 10
    assert mall.campaign_row(campaign)["sold"] == 0
    assert all(r["status"] == "done" for m in mall.group(group_id)["members"] for r in m["refunds"])
    kinds = _events(mall, group_id)
    assert "group_failed" in kinds and kinds.count("refund_done") == 2

    # and running the sweep again refunds nothing twice; the shoppers may buy again (limit released)
    mall.sweep(now() + timedelta(hours=30))
    assert mall.order_of(leader, first)["refunded_total"] == 8360
    mall.order(leader, sku, campaign)


def test_a_leader_who_refunds_hands_the_group_to_the_next_member_with_the_same_deadline(mall):
    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku], group_size=4, tiers=[{"size": 2, "percent": "90"}])
    leader, second, third = mall.shopper(), mall.shopper(), mall.shopper()
    first = mall.buy(leader, sku, campaign)
    group_id = mall.group_of(first)
    joined = mall.buy(second, sku, campaign, group_id)
    later = mall.buy(third, sku, campaign, group_id)
    before = mall.group(group_id)

    # when the leader gets a full refund through after-sales
    mall.refund_after_sale(leader, first)

    # then the next member leads, the deadline has not moved, the leader's unit is back
    after = mall.group(group_id)
    second_member = next(m for m in after["members"] if m["order_id"] == joined["id"])
    assert after["leader_member_id"] == second_member["id"]
    assert after["deadline"] == before["deadline"]
    assert after["status"] == "open" and after["headcount"] == 2 and after["seats"] == 2
    assert mall.stock(sku) == 8
    assert [m["leader"] for m in mall.public_group(group_id)["members"]] == [True, False]

    # when everyone else leaves too, the group is cancelled
    mall.refund_after_sale(second, joined)
    mall.refund_after_sale(third, later)
    assert mall.group(group_id)["status"] == "cancelled"
    assert mall.stock(sku) == 10 and mall.campaign_row(campaign)["sold"] == 0


def test_a_refund_after_success_leaves_the_group_a_success_and_shows_it_honestly(mall):
    [sku] = mall.product(price=5000, stock=10)
    campaign = mall.campaign([sku], group_size=2, tiers=[{"size": 2, "percent": "80"}])
    a, b = mall.shopper(), mall.shopper()
    first = mall.buy(a, sku, campaign)
    group_id = mall.group_of(first)
    mall.buy(b, sku, campaign, group_id)
    mall.refund_after_sale(a, first)
    public = mall.public_group(group_id)
    assert public["status"] == "succeeded" and public["refunded_after"] == 1 and len(public["members"]) == 1


def test_unpaid_group_orders_close_after_their_own_short_timeout(gb_app, client):
    from tests.groupbuy.conftest import Mall

    mall = Mall(gb_app, client, {"unpaid_minutes": 5})
    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku], per_shopper_limit=1)
    leader, late = mall.shopper(), mall.shopper()
    group_id = mall.group_of(mall.buy(leader, sku, campaign))
    order = mall.order(late, sku, campaign, group_id)
    placed = mall.order_of(late, order)
    deadline = datetime.fromisoformat(placed["pay_deadline"])
    deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)  # SQLite: naive UTC
    assert timedelta(minutes=4) < deadline - now() <= timedelta(minutes=5)  # not the store's 30 minutes
    assert mall.group(group_id)["seats"] == 2

    mall.order_sweep(now() + timedelta(minutes=6))
    assert mall.order_of(late, order)["status"] == "cancelled"
    group = mall.group(group_id)
    assert group["seats"] == 1 and group["headcount"] == 1
    assert mall.stock(sku) == 9 and mall.campaign_row(campaign)["sold"] == 1
    mall.order(late, sku, campaign, group_id)  # the per-shopper limit gave the unit back


def test_auto_complete_is_off_by_default_and_never_invents_members(mall):
    [sku] = mall.product(price=10000, stock=20)
    off = mall.campaign([sku], title="默认")
    on = mall.campaign([sku], title="商家承担", auto_complete_percent=60)
    groups = {}
    for name, campaign in (("off", off), ("on", on)):
        a, b = mall.shopper(), mall.shopper()
        groups[name] = mall.group_of(mall.buy(a, sku, campaign))
        mall.buy(b, sku, campaign, groups[name])

    mall.sweep(now() + timedelta(hours=25))

    assert mall.group(groups["off"])["status"] == "failed"
    completed = mall.group(groups["on"])
    assert completed["status"] == "succeeded" and completed["auto_completed"] and completed["headcount"] == 2
    public = mall.public_group(groups["on"])
    assert len(public["members"]) == 2 and public["headcount"] == 2 and public["size"] == 3
    page = mall.client.get(f"{mall.shop.prefix}/x/groupbuy/g/{groups['on']}").get_data(as_text=True)
    assert page.count('<li class="') == 2  # the two real members, nobody else
    assert 'id="auto-completed"' in page


def test_a_refund_the_provider_refuses_is_retried_later_and_logged(mall, monkeypatch):
    from mallow.sdk import PaymentProblem
    from mallow_groupbuy import refunds

    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku])
    a = mall.shopper()
    first = mall.buy(a, sku, campaign)
    group_id = mall.group_of(first)
    real_refund = refunds.refund_order  # the SDK's refund entry point, as the plugin calls it
    calls = []

    def flaky(order, amount, reason, actor, **kwargs):
        calls.append(amount)
        if len(calls) == 1:
            raise PaymentProblem("provider_unavailable", "try later", 503)
        return real_refund(order, amount, reason, actor, **kwargs)

    monkeypatch.setattr(refunds, "refund_order", flaky)
    expired = now() + timedelta(hours=25)
    mall.sweep(expired)
    [task] = mall.group(group_id)["members"][0]["refunds"]
    assert task["status"] == "due" and task["attempts"] == 1 and task["last_error"] == "provider_unavailable"
    assert mall.order_of(a, first)["refunded_total"] == 0

    mall.sweep(expired + timedelta(minutes=2))  # after the first back-off
    [task] = mall.group(group_id)["members"][0]["refunds"]
    assert task["status"] == "done" and calls == [9500, 9500]
    assert mall.order_of(a, first)["refunded_total"] == 9500
    assert "refund_retry_scheduled" in _events(mall, group_id)


def test_the_sweep_catches_up_with_payments_made_while_the_plugin_was_off(mall):
    from mallow.testing import disable_plugin, enable_plugin

    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku])
    a, b = mall.shopper(), mall.shopper()
    group_id = mall.group_of(mall.buy(a, sku, campaign))
    order = mall.order(b, sku, campaign, group_id)
    disable_plugin(mall.app, mall.shop, "groupbuy")
    mall.pay(b, order)  # no hook ran: the plugin is off in this store
    assert mall.sweep(now()) is None  # the sweep does nothing where the plugin is off
    enable_plugin(mall.app, mall.shop, "groupbuy")
    assert mall.sweep(now())["reconciled"] == 1
    assert mall.group(group_id)["headcount"] == 2


def test_jobs_and_pages_answer_in_the_right_store_only(gb_app, client):
    """A group id of store A means nothing in store B."""
    from tests.groupbuy.conftest import Mall

    a, b = Mall(gb_app, client), Mall(gb_app, client)
    [sku] = a.product()
    campaign = a.campaign([sku])
    group_id = a.group_of(a.buy(a.shopper(), sku, campaign))
    assert client.get(f"{b.api}/groups/{group_id}").status_code == 404
    assert client.get(f"{b.console_api}/groups/{group_id}", headers=bearer(b.mtoken)).status_code == 404
    assert client.get(f"{b.console_api}/groups/{group_id}", headers=bearer(a.mtoken)).status_code in (401, 403)


def test_a_payment_that_arrives_after_its_group_closed_is_refunded_in_full(mall):
    """The sweep closed the group while this member's payment was on its way (a race the sweep's
    own cancellation of unpaid orders usually prevents): the money goes back, so do the units."""
    from mallow.db import db
    from mallow.tenants.context import store_context
    from mallow_groupbuy.models import Group

    [sku] = mall.product(price=10000, stock=10)
    campaign = mall.campaign([sku])
    a, b = mall.shopper(), mall.shopper()
    group_id = mall.group_of(mall.buy(a, sku, campaign))
    order = mall.order(b, sku, campaign, group_id)
    with store_context(mall.shop.store_id, app=mall.app):
        db.session.execute(sa.update(Group).where(Group.id == group_id).values(status="failed"))
        db.session.commit()

    paid = mall.pay(b, order)
    assert "groupbuy_refunding" in [e["kind"] for e in paid["timeline"]]
    mall.sweep(now())
    refunded = mall.order_of(b, order)
    assert refunded["status"] == "closed" and refunded["refunded_total"] == refunded["total"]
    member = next(m for m in mall.group(group_id)["members"] if m["order_id"] == order["id"])
    assert member["status"] == "refunded" and member["refunds"][0]["status"] == "done"
