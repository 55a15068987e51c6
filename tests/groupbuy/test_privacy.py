"""The group buy in a shopper's data rights: the export holds their memberships, units and
refunds; deleting the account is refused while a group they are in is open or a refund the group
buy owes them is not done, and once it can go, their per-campaign units go and the members and
refunds the campaign's figures are made of stay (naming only the tombstone's id)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from mallow.testing import PASSWORD, bearer

from .conftest import now


def _delete(mall, person):
    return mall.client.post(
        f"{mall.shop.prefix}/api/me/delete",
        headers=bearer(person.token),
        json={"confirm": "注销", "password": PASSWORD},
    )


def _in_store(mall, func):
    from mallow.tenants.context import store_context

    with store_context(mall.shop.store_id, app=mall.app):
        return func()


def _set_refunds(mall, order_id: int, status: str) -> int:
    from mallow.db import db
    from mallow_groupbuy.models import RefundTask

    def write():
        moved = db.session.execute(sa.update(RefundTask).where(RefundTask.order_id == order_id).values(status=status))
        db.session.commit()
        return moved.rowcount

    return _in_store(mall, write)


def _units_and_members(mall, customer_id: int) -> tuple[int, list[str]]:
    """Rows of the shopper's per-campaign units, and the states of their memberships."""
    from mallow.db import db
    from mallow_groupbuy.models import Member, ShopperUnits

    def read():
        units = db.session.execute(
            sa.select(sa.func.count()).select_from(ShopperUnits).where(ShopperUnits.customer_id == customer_id)
        ).scalar_one()
        statuses = db.session.execute(sa.select(Member.status).where(Member.customer_id == customer_id)).scalars()
        return units, list(statuses)

    return _in_store(mall, read)


def test_an_open_group_and_an_owed_refund_refuse_the_deletion_then_it_erases(mall):
    [sku] = mall.product(price=8800, stock=10)
    campaign = mall.campaign([sku])
    leader = mall.shopper()
    first = mall.buy(leader, sku, campaign)

    data = mall.get(f"{mall.shop.prefix}/api/me/export", leader.token)
    customer_id, exported = data["profile"]["id"], data["plugins"]["groupbuy"]
    [membership] = exported["memberships"]
    assert membership["campaign"] == "三人团" and membership["order_number"] == first["number"]
    assert membership["group_status"] == "open" and membership["leads_the_group"] is True
    assert exported["units"] == [{"campaign": "三人团", "units": 1}]

    # the group is open: the core refuses first (paid, not shipped); plugins are asked only after
    refused = _delete(mall, leader)
    assert refused.status_code == 409
    assert [(b["code"], b.get("plugin")) for b in refused.get_json()["blockers"]] == [("to_ship", None)]

    # the group fails at its deadline and refunds the leader; a refund the provider refused waits
    # for the merchant's retry: the group buy still owes that money
    mall.sweep(now() + timedelta(hours=24, minutes=1))
    assert mall.order_of(leader, first)["status"] == "closed"
    assert _set_refunds(mall, first["id"], "failed") == 1
    refused = _delete(mall, leader)
    assert refused.status_code == 409
    [blocker] = refused.get_json()["blockers"]
    assert blocker["code"] == "plugin" and "83.60" in blocker["message"]
    assert mall.client.get(f"{mall.shop.prefix}/api/me", headers=bearer(leader.token)).status_code == 200

    # paid back: the deletion goes through; the units go, the member stays for the campaign's figures
    _set_refunds(mall, first["id"], "done")
    assert _units_and_members(mall, customer_id) == (1, ["refunded"])
    deleted = _delete(mall, leader)
    assert deleted.status_code == 200, deleted.get_json()
    assert _units_and_members(mall, customer_id) == (0, ["refunded"])
    assert mall.campaign_row(campaign)["sold"] == 0
