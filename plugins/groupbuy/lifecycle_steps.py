"""The steps the group-buy lifecycle (:mod:`mallow_groupbuy.lifecycle`) is made of: a member's move
through its state machine, a group's close in one conditional UPDATE, giving back units, stock
and seats, a refund owed, unpaid seats cancelled, and waking the store's sweep."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from mallow.sdk import Order, cancel_order, current_store, db, enqueue_job, mark_changed, release_stock
from mallow_groupbuy.campaigns import now
from mallow_groupbuy.checkout import release_quota, release_units
from mallow_groupbuy.models import MEMBER_STATES, Group, Member, RefundTask
from mallow_groupbuy.records import ACTOR, log_event, order_event


def move(member: Member, target: str, at: datetime | None = None) -> None:
    """The member to ``target`` (checked by its state machine), with the time it joined or ended."""
    MEMBER_STATES.check(member.status, target)
    member.status = target
    if target == "joined":
        member.joined_at = at or now()
    elif target in ("dropped", "left", "refunded"):
        member.ended_at = at or now()


def close_group(group: Group, target: str, **values) -> bool:
    """open → ``target`` in one conditional UPDATE; False when the group had moved already.
    The statement is no flush of a watched object: pages showing groups are told (``mark_changed``)."""
    changed = (
        db.session.execute(
            sa.update(Group)
            .where(Group.id == group.id, Group.status == "open")
            .values(status=target, closed_at=now(), **values)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if changed:
        mark_changed()
    db.session.refresh(group)
    return changed


def members_in(group: Group, *states: str) -> list[Member]:
    """The group's members in these states, in seat order."""
    return list(
        db.session.execute(
            sa.select(Member)
            .where(Member.group_id == group.id, Member.status.in_(states))
            .order_by(Member.seq, Member.id)
        ).scalars()
    )


def give_back(member: Member, order: Order | None, *, seat: bool) -> None:
    """Units back to the campaign and the shopper's limit; stock back to the SKU unless the
    goods left the warehouse; the seat back when the group is still open."""
    release_quota(member.campaign_id, member.quantity)
    release_units(member.campaign_id, member.customer_id, member.quantity)
    if order is not None and order.shipped_at is None:
        release_stock(member.sku_id, member.quantity, order.id)
    if seat and member.group_id is not None:
        db.session.execute(
            sa.update(Group)
            .where(Group.id == member.group_id, Group.seats > Group.headcount)
            .values(seats=Group.seats - 1)
            .execution_options(synchronize_session=False)
        )


def owe(member: Member, kind: str, amount: int) -> RefundTask | None:
    """A refund the sweep pays out (``kind``: full or difference); nothing when nothing is owed."""
    if amount <= 0:
        return None
    task = RefundTask(
        member_id=member.id, order_id=member.order_id, kind=kind, amount=amount, status="due", next_attempt_at=now()
    )
    db.session.add(task)
    db.session.flush()
    log_event(
        "refund_owed",
        campaign_id=member.campaign_id,
        group_id=member.group_id,
        member_id=member.id,
        order_id=member.order_id,
        refund_kind=kind,
        amount=amount,
    )
    return task


def refund_everything(member: Member, order: Order, reason: str) -> None:
    """A paid member whose group will not ship: everything back (money by the sweep)."""
    move(member, "refunded")
    give_back(member, order, seat=False)
    owe(member, "full", order.total - order.refunded_total)
    order_event(order.id, "groupbuy_refunding", reason=reason, group_id=member.group_id)


def cancel_unpaid(group: Group) -> None:
    """Unpaid orders still holding a seat of a group that closed: cancel them (stock, units and
    seat come back through ``mallow_order_cancelled``)."""
    for member in members_in(group, "pending"):
        order = db.session.get(Order, member.order_id)
        if order is not None and order.status == "pending_payment":
            cancel_order(order, ACTOR, "groupbuy_closed")


def wake_sweep() -> None:
    """Ask for this store's sweep soon (refunds go out without waiting for the next minute).
    Best effort: ``enqueue`` never raises (a lost job is logged there), and the periodic sweep
    does the same work anyway."""
    enqueue_job("groupbuy.sweep_store", store_id=current_store().id, delay=3)
