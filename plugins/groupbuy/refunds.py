"""Money the plugin owes members, paid back through the payment provider.

A :class:`~mallow_groupbuy.models.RefundTask` is written when a group fails (``full``) or ends on
a cheaper tier (``difference``). :func:`work_off` (run by the sweep) sends each through
:func:`mallow.sdk.refund_order`, whose refund reason names the task
(``groupbuy:<kind>:<task id>``): after a crash between the refund and the task's update, the
next run finds the refund by that reason instead of refunding twice. The provider's answer
comes back through ``mallow_order_refunded`` (:func:`refund_settled`) or the next run.

Retries: a refund the payments service refuses, or that the provider closes, is tried again
after 1, 5, 15, 60, 180 … minutes; after :data:`MAX_ATTEMPTS` the task is ``failed`` and the
console shows it for the merchant (who can retry it). Every step is in the group-buy log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from mallow.sdk import Order, PaymentProblem, Refund, db, refund_order, refundable_amount
from mallow_groupbuy.campaigns import now
from mallow_groupbuy.models import REFUND_STATES, Member, RefundTask
from mallow_groupbuy.records import ACTOR, log, log_event

BACKOFF_MINUTES = (1, 5, 15, 60, 180, 360, 720)
MAX_ATTEMPTS = 8
IN_FLIGHT = ("processing", "abnormal")


def _refunds_of(task: RefundTask) -> list[Refund]:
    return list(
        db.session.execute(
            sa.select(Refund).where(Refund.order_id == task.order_id, Refund.reason == task.reason)
        ).scalars()
    )


def _set(task: RefundTask, target: str, **values) -> None:
    if task.status != target:
        REFUND_STATES.check(task.status, target)
        task.status = target
        if target in ("done", "failed"):
            task.finished_at = now()
    for key, value in values.items():
        setattr(task, key, value)


def _log(task: RefundTask, kind: str, **detail) -> None:
    member = db.session.get(Member, task.member_id)
    log_event(
        kind,
        campaign_id=member.campaign_id if member else None,
        group_id=member.group_id if member else None,
        member_id=task.member_id,
        order_id=task.order_id,
        task_id=task.id,
        refund_kind=task.kind,
        **detail,
    )


def _progress(task: RefundTask) -> tuple[int, bool]:
    """``(fen refunded so far, a refund still on its way)``."""
    rows = _refunds_of(task)
    return sum(r.amount for r in rows if r.status == "succeeded"), any(r.status in IN_FLIGHT for r in rows)


def _check(task: RefundTask, at: datetime) -> bool:
    """Bring ``task`` up to date with its refunds; True when nothing is left to send now."""
    refunded, in_flight = _progress(task)
    if refunded >= task.amount:
        if task.status != "done":
            _set(task, "done", last_error=None)
            _log(task, "refund_done", amount=refunded)
        return True
    if in_flight:
        _set(task, "processing")
        return True
    if task.status == "processing":  # the provider closed it: try again later
        _schedule_retry(task, at, "closed_by_provider")
        return True
    return False


def _schedule_retry(task: RefundTask, at: datetime, reason: str) -> None:
    task.last_error = reason[:80]
    if task.attempts >= MAX_ATTEMPTS:
        _set(task, "failed")
        _log(task, "refund_failed", reason=reason, attempts=task.attempts)
        log.warning("groupbuy refund task %s failed after %s attempts: %s", task.id, task.attempts, reason)
        return
    _set(task, "due", next_attempt_at=at + _backoff(task.attempts))
    _log(task, "refund_retry_scheduled", reason=reason, attempts=task.attempts)


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1])


def send(task: RefundTask, at: datetime) -> None:
    """One attempt for one task (commits)."""
    task_id = task.id
    if _check(task, at):
        db.session.commit()
        return
    refunded, _in_flight = _progress(task)
    order = db.session.get(Order, task.order_id)
    amount = min(task.amount - refunded, refundable_amount(order))
    if amount <= 0:  # refunded otherwise (e.g. an after-sales refund took it all)
        _set(task, "done", last_error="nothing_left")
        _log(task, "refund_done", amount=refunded, note="nothing left to refund")
        db.session.commit()
        return
    task.attempts += 1
    _log(task, "refund_requested", amount=amount, attempt=task.attempts)
    try:
        refund_order(order, amount, task.reason, ACTOR)  # commits, then asks the provider
    except PaymentProblem as problem:  # refused before anything was sent
        db.session.rollback()
        task = db.session.get(RefundTask, task_id)
        task.attempts += 1
        _schedule_retry(task, at, problem.code)
        db.session.commit()
        return
    task = db.session.get(RefundTask, task_id)
    db.session.refresh(task)
    if not _check(task, at):  # the provider refused it at once
        _schedule_retry(task, at, "closed_by_provider")
    db.session.commit()


def work_off(at: datetime, limit: int = 200) -> dict:
    """Send every refund that is due (the sweep calls this); ``{"refunds_sent": n}``."""
    ids = (
        db.session.execute(
            sa.select(RefundTask.id)
            .where(
                RefundTask.status.in_(("due", "processing")),
                sa.or_(RefundTask.next_attempt_at.is_(None), RefundTask.next_attempt_at <= at),
            )
            .order_by(RefundTask.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    for task_id in ids:
        send(db.session.get(RefundTask, task_id), at)
    return {"refunds_sent": len(ids)}


def refund_settled(refund: Refund) -> None:
    """``mallow_order_refunded`` for one of the plugin's own refunds (inside its transaction)."""
    try:
        task_id = int(str(refund.reason).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return
    task = db.session.get(RefundTask, task_id)
    if task is not None and task.order_id == refund.order_id and task.status in ("due", "processing"):
        _check(task, now())


def retry(task: RefundTask) -> None:
    """The merchant asks for another try of a failed refund."""
    if task.status == "failed":
        _set(task, "due", next_attempt_at=now(), attempts=0)
        _log(task, "refund_retry_requested")
