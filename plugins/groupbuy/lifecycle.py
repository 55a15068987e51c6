"""Groups and members through their state machines (see :mod:`mallow_groupbuy.models`).

Every change of a group is one conditional UPDATE on its row (``… WHERE status = 'open'``), so a
payment, a refund and the deadline sweep racing each other change a group once; the row lock
the UPDATE takes also serialises the members' counters.

* **opened** — the opener's order is paid: the group exists from then on, leader = opener,
  deadline = payment time + the campaign's window.
* **joined** — a member's order is paid: headcount + 1; at ``size`` the group **succeeds**.
* **succeeded** — every member's price is settled at the final tier (refund of the difference,
  by the sweep); unpaid orders still holding a seat are cancelled.
* **failed** — the deadline passed unfilled (and auto-complete is off or not reached): every paid
  member is refunded in full through the payment provider (by the sweep, retried, logged), stock
  goes back to the SKU, units to the campaign and to the shopper's limit.
* **left** — a paid member got a full refund (after-sales) while the group was open: seat, units
  and stock come back; if it was the leader, the earliest remaining member leads, deadline
  unchanged; nobody left → the group is **cancelled**.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from mallow.sdk import Order, Product, db, notify
from mallow_groupbuy import money
from mallow_groupbuy.campaigns import now
from mallow_groupbuy.checkout import PAID_STATES, release_quota, release_units
from mallow_groupbuy.lifecycle_steps import (
    cancel_unpaid,
    close_group,
    give_back,
    members_in,
    move,
    owe,
    refund_everything,
    wake_sweep,
)
from mallow_groupbuy.models import Campaign, Group, Member
from mallow_groupbuy.records import log_event, order_event


def member_of(order_id: int) -> Member | None:
    return db.session.execute(sa.select(Member).where(Member.order_id == order_id)).scalar_one_or_none()


# --- order events -------------------------------------------------------------------------------


def on_paid(order: Order) -> None:
    """Inside the transaction that marks ``order`` paid: open the group, or join it."""
    member = member_of(order.id)
    if member is None or member.status != "pending":
        return
    at = now()
    if member.group_id is None:
        _open(member, order, at)
        return
    joined = (
        db.session.execute(
            sa.update(Group)
            .where(Group.id == member.group_id, Group.status == "open")
            .values(headcount=Group.headcount + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    group = db.session.get(Group, member.group_id)
    db.session.refresh(group)
    if not joined:  # the group closed while this payment was on its way
        refund_everything(member, order, f"group_{group.status}")
        log_event(
            "paid_after_close",
            campaign_id=member.campaign_id,
            group_id=group.id,
            member_id=member.id,
            order_id=order.id,
            group_status=group.status,
        )
        wake_sweep()
        return
    last = db.session.execute(sa.select(sa.func.max(Member.seq)).where(Member.group_id == group.id)).scalar()
    member.seq = (last or 0) + 1
    move(member, "joined", at)
    order_event(order.id, "groupbuy_joined", group_id=group.id, headcount=group.headcount, size=group.size)
    log_event(
        "member_joined",
        campaign_id=group.campaign_id,
        group_id=group.id,
        member_id=member.id,
        order_id=order.id,
        headcount=group.headcount,
    )
    if group.headcount >= group.size:
        succeed(group)


def _open(member: Member, order: Order, at: datetime) -> None:
    campaign = db.session.get(Campaign, member.campaign_id)
    group = Group(
        campaign_id=campaign.id,
        status="open",
        size=campaign.group_size,
        tiers=list(campaign.tiers),
        seats=1,
        headcount=1,
        opened_at=at,
        deadline=at + timedelta(minutes=campaign.window_minutes),
    )
    db.session.add(group)
    db.session.flush()
    member.group_id, member.seq = group.id, 1
    group.leader_member_id = member.id
    move(member, "joined", at)
    order_event(order.id, "groupbuy_opened", group_id=group.id, size=group.size, deadline=group.deadline.isoformat())
    log_event(
        "group_opened",
        campaign_id=campaign.id,
        group_id=group.id,
        member_id=member.id,
        order_id=order.id,
        deadline=group.deadline.isoformat(),
    )


def on_cancelled(order: Order, reason: str) -> None:
    """An unpaid order closed (its stock is back already): seat and units come back."""
    member = member_of(order.id)
    if member is None or member.status != "pending":
        return
    move(member, "dropped")
    release_quota(member.campaign_id, member.quantity)
    release_units(member.campaign_id, member.customer_id, member.quantity)
    if member.group_id is not None:
        db.session.execute(
            sa.update(Group)
            .where(Group.id == member.group_id, Group.seats > Group.headcount)
            .values(seats=Group.seats - 1)
            .execution_options(synchronize_session=False)
        )
    log_event(
        "member_dropped",
        campaign_id=member.campaign_id,
        group_id=member.group_id,
        member_id=member.id,
        order_id=order.id,
        reason=reason,
    )


def on_refunded(order: Order, refund) -> None:
    """Money went back. The plugin's own refunds move their task; a full refund of a paid
    member by anyone else takes the member out of an open group."""
    from mallow_groupbuy import refunds

    if str(refund.reason or "").startswith("groupbuy:"):
        refunds.refund_settled(refund)
        return
    member = member_of(order.id)
    if member is None or member.status != "joined" or order.status != "closed":
        return  # a partial refund keeps the member in the group
    group = db.session.get(Group, member.group_id)
    if group.status == "open":
        leave(member, group, order)
    else:  # after success: the group stays a success, the member is shown as refunded
        move(member, "left")
        log_event(
            "member_refunded_after_close",
            campaign_id=member.campaign_id,
            group_id=group.id,
            member_id=member.id,
            order_id=order.id,
        )


def leave(member: Member, group: Group, order: Order) -> None:
    db.session.execute(
        sa.update(Group)
        .where(Group.id == group.id, Group.status == "open", Group.headcount > 0)
        .values(headcount=Group.headcount - 1, seats=Group.seats - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(group)
    move(member, "left")
    give_back(member, order, seat=False)
    order_event(order.id, "groupbuy_left", group_id=group.id)
    log_event(
        "member_left",
        campaign_id=group.campaign_id,
        group_id=group.id,
        member_id=member.id,
        order_id=order.id,
        headcount=group.headcount,
    )
    if group.leader_member_id == member.id:
        remaining = members_in(group, "joined")
        group.leader_member_id = remaining[0].id if remaining else None
        if remaining:  # the deadline stays the one the group opened with
            log_event(
                "leader_handed_over",
                campaign_id=group.campaign_id,
                group_id=group.id,
                member_id=remaining[0].id,
                previous=member.id,
            )
    if group.headcount == 0 and close_group(group, "cancelled"):
        log_event("group_cancelled", campaign_id=group.campaign_id, group_id=group.id)
        cancel_unpaid(group)


# --- closing -----------------------------------------------------------------------------------


def succeed(group: Group, *, auto: bool = False) -> bool:
    """The group succeeded (filled, or completed at the deadline by the merchant's choice):
    settle every member at the final tier; unpaid seats are cancelled."""
    final_bp = money.tier_for(group.tiers, group.headcount)
    if not close_group(group, "succeeded", final_bp=final_bp, auto_completed=auto):
        return False
    joined = members_in(group, "joined")
    for member in joined:
        final_unit = money.unit_price(member.unit_price, final_bp, member.leader_bp)
        owe(member, "difference", money.difference(member.paid_unit, final_unit, member.quantity))
        order_event(
            member.order_id,
            "groupbuy_succeeded",
            group_id=group.id,
            headcount=group.headcount,
            final_unit=final_unit,
            auto_completed=auto,
        )
    log_event(
        "group_succeeded",
        campaign_id=group.campaign_id,
        group_id=group.id,
        headcount=group.headcount,
        size=group.size,
        final_bp=final_bp,
        auto_completed=auto,
    )
    cancel_unpaid(group)
    tell_members(group, "group_succeeded", joined)
    wake_sweep()
    return True


def fail(group: Group) -> bool:
    if not close_group(group, "failed"):
        return False
    paid = members_in(group, "joined")
    for member in paid:
        refund_everything(member, db.session.get(Order, member.order_id), "group_failed")
    log_event(
        "group_failed", campaign_id=group.campaign_id, group_id=group.id, headcount=group.headcount, size=group.size
    )
    cancel_unpaid(group)
    tell_members(group, "group_failed", paid)
    return True


def tell_members(group: Group, event: str, members: list[Member]) -> None:
    """Each paid member hears how the group ended (消息, and the channels they chose), in the
    transaction that closed it: once per group and shopper, however often this runs."""
    campaign = db.session.get(Campaign, group.campaign_id)
    product = db.session.get(Product, campaign.product_id) if campaign is not None else None
    title = product.title if product is not None else (campaign.title if campaign is not None else "")
    for member in members:
        notify(event, member.customer_id, key=f"group:{group.id}", title=title)


def expire(group: Group) -> str:
    """The deadline passed: auto-complete (when the merchant turned it on and enough seats are
    paid) or fail."""
    campaign = db.session.get(Campaign, group.campaign_id)
    percent = campaign.auto_complete_percent if campaign is not None else None
    if percent and group.headcount > 0 and group.headcount * 100 >= percent * group.size:
        return "succeeded" if succeed(group, auto=True) else group.status
    return "failed" if fail(group) else group.status


def sweep(at: datetime) -> dict:
    """The store's group-buy timers (periodic job): expire groups past their deadline, catch up
    with order changes the hooks did not see (e.g. while the plugin was disabled), then work
    off the refunds owed. Each group is its own transaction."""
    from mallow_groupbuy import refunds

    counts = {"failed": 0, "succeeded": 0, "reconciled": 0}
    ids = (
        db.session.execute(
            sa.select(Group.id)
            .where(Group.status == "open", Group.deadline <= at)
            .order_by(Group.deadline, Group.id)
            .limit(500)
        )
        .scalars()
        .all()
    )
    for group_id in ids:
        group = db.session.get(Group, group_id)
        outcome = expire(group)
        counts[outcome] = counts.get(outcome, 0) + 1
        db.session.commit()
    counts["reconciled"] = reconcile()
    db.session.commit()
    counts.update(refunds.work_off(at))
    return counts


def reconcile() -> int:
    """Members whose order moved without the plugin hearing of it."""
    rows = db.session.execute(
        sa.select(Member, Order)
        .join(Order, Order.id == Member.order_id)
        .where(
            sa.or_(
                sa.and_(Member.status == "pending", Order.status != "pending_payment"),
                sa.and_(Member.status == "joined", Order.status == "closed"),
            )
        )
        .order_by(Member.id)
        .limit(500)
    ).all()
    for member, order in rows:
        if member.status == "pending" and order.status == "cancelled":
            on_cancelled(order, "reconciled")
        elif member.status == "pending" and order.status in PAID_STATES:
            on_paid(order)
        elif member.status == "joined":
            group = db.session.get(Group, member.group_id)
            if group.status == "open":
                leave(member, group, order)
            else:
                move(member, "left")
    return len(rows)
