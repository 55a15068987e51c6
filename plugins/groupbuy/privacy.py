"""The group buy's part of a shopper's data rights (PIPL): its section of the export
(``mallow_customer_data``) and its erasure when the account is deleted (``mallow_erase_customer``).

What it holds about a shopper: their memberships (which group of which campaign, for which order,
at which price, in which state, whether they opened or lead it), the units they hold per campaign
(the per-shopper limit) and the refunds it owes or paid them. Nothing they typed: a group shows
its members by their masked nickname (``张**``), read from the core's customer row, which the
deletion turns into 已注销用户.

The deletion is **refused while**

* a group the shopper is in (paid or holding a seat) is still open: its outcome decides whether
  they are shipped the goods or refunded, and a leader's group page is what the others joined
  through (their paid order also refuses it in the core: this says why in the group's words);
* a refund the group buy owes them is not done yet (due, being paid, or failed and waiting for the
  merchant to retry): the money is theirs, and the merchant must be able to reach them about it.

Otherwise the erasure deletes their per-campaign unit counters (they only served the limit) and
keeps the members and refunds: ids, quantities, prices and states the campaign's figures (sold,
seats, headcount) and the store's accounts are made of, naming only the customer id of a
tombstone.
"""

from __future__ import annotations

from datetime import datetime, UTC

import sqlalchemy as sa

from mallow.sdk import Order, db, fen_to_yuan
from mallow_groupbuy.i18n import _
from mallow_groupbuy.models import Campaign, Group, Member, RefundTask, ShopperUnits

#: refunds not finished: the plugin still owes the shopper that money
OWED_REFUNDS = ("due", "processing", "failed")
#: members that take part in their group (paid, or holding a seat until payment)
ACTIVE_MEMBERS = ("pending", "joined")


def _at(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()


def customer_data(customer) -> dict | None:
    """The shopper's memberships, units and refunds, as plain JSON (money in fen)."""
    rows = db.session.execute(
        sa.select(Member, Campaign.title, Group.status, Group.leader_member_id, Order.number)
        .join(Campaign, Campaign.id == Member.campaign_id)
        .outerjoin(Group, Group.id == Member.group_id)
        .outerjoin(Order, Order.id == Member.order_id)
        .where(Member.customer_id == customer.id)
        .order_by(Member.id)
    ).all()
    units = db.session.execute(
        sa.select(Campaign.title, ShopperUnits.units)
        .join(Campaign, Campaign.id == ShopperUnits.campaign_id)
        .where(ShopperUnits.customer_id == customer.id)
        .order_by(ShopperUnits.campaign_id)
    ).all()
    refunds = (
        db.session.execute(
            sa.select(RefundTask, Order.number)
            .outerjoin(Order, Order.id == RefundTask.order_id)
            .where(RefundTask.member_id.in_([member.id for member, *_rest in rows]))
            .order_by(RefundTask.id)
        ).all()
        if rows
        else []
    )
    if not rows and not units:
        return None
    return {
        "memberships": [
            {
                "campaign": title,
                "order_number": number,
                "group_id": member.group_id,
                "group_status": group_status,
                "opened_the_group": member.opener,
                "leads_the_group": leader is not None and leader == member.id,
                "quantity": member.quantity,
                "unit_price": member.unit_price,
                "paid_unit": member.paid_unit,
                "status": member.status,
                "placed_at": _at(member.placed_at),
                "joined_at": _at(member.joined_at),
                "ended_at": _at(member.ended_at),
            }
            for member, title, group_status, leader, number in rows
        ],
        "units": [{"campaign": title, "units": count} for title, count in units],
        "refunds": [
            {
                "order_number": number,
                "kind": task.kind,
                "amount": task.amount,
                "status": task.status,
                "created_at": _at(task.created_at),
                "finished_at": _at(task.finished_at),
            }
            for task, number in refunds
        ],
    }


def blockers(customer) -> list[str]:
    found: list[str] = []
    open_groups = db.session.execute(
        sa.select(Campaign.title)
        .select_from(Member)
        .join(Group, Group.id == Member.group_id)
        .join(Campaign, Campaign.id == Member.campaign_id)
        .where(Member.customer_id == customer.id, Member.status.in_(ACTIVE_MEMBERS), Group.status == "open")
        .order_by(Member.id)
    ).scalars()
    for title in open_groups:
        found.append(_("Your group buy of %(title)s is still open: wait until it succeeds or ends.", title=title))
    owed = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(RefundTask.amount), 0))
        .join(Member, Member.id == RefundTask.member_id)
        .where(Member.customer_id == customer.id, RefundTask.status.in_(OWED_REFUNDS))
    ).scalar_one()
    if owed:
        found.append(
            _(
                "The group buy still owes you a refund of ¥%(amount)s: wait until it is paid back.",
                amount=fen_to_yuan(int(owed)),
            )
        )
    return found


def erase_customer(customer) -> list[str] | None:
    refused = blockers(customer)
    if refused:
        return refused
    db.session.execute(
        sa.delete(ShopperUnits)
        .where(ShopperUnits.customer_id == customer.id)
        .execution_options(synchronize_session=False)
    )
    return None
