"""Withdrawals: a distributor asks for (part of) the withdrawable balance, the merchant pays it
(recording how: the payout record) or rejects it (the money returns to the balance)."""

from __future__ import annotations

from datetime import datetime, UTC

import sqlalchemy as sa

from mallow.sdk import Errors, ValidationFailed, current_store, db, fen_to_yuan, form_text, record_audit
from mallow_distribution import ledger, rules
from mallow_distribution.distributors import DistributionProblem
from mallow_distribution.i18n import _
from mallow_distribution.models import Distributor, Withdrawal


def _now() -> datetime:
    return datetime.now(UTC)


def _lock(distributor: Distributor) -> None:
    """Take the distributor's row lock before reading balances (PostgreSQL row lock; SQLite's
    write lock), so two requests cannot both spend the same balance. The lock is the first
    statement of a fresh transaction: SQLite cannot turn a reading transaction into a writing
    one while another writer is busy (it would fail at once instead of waiting its turn)."""
    distributor_id = distributor.id  # read before the commit expires the object
    db.session.commit()  # nothing is pending here: this only ends the reading transaction
    db.session.execute(
        sa.update(Distributor)
        .where(Distributor.id == distributor_id)
        .values(updated_at=_now())
        .execution_options(synchronize_session=False)
    )


def request(distributor: Distributor, amount: int | None, customer=None) -> Withdrawal:
    minimum = int(rules.settings().get("min_withdrawal", 1000))
    if distributor.status not in ("approved", "suspended"):  # a suspended one keeps what was earned
        raise DistributionProblem("not_distributor", _("Only approved distributors can withdraw."), 403)
    if amount is None or amount <= 0:
        raise ValidationFailed({"amount": ("invalid", _("Enter an amount in yuan, such as 50 or 12.80."))})
    if amount < minimum:
        raise ValidationFailed(
            {"amount": ("below_minimum", _("The smallest withdrawal is %(amount)s yuan.", amount=fen_to_yuan(minimum)))}
        )
    _lock(distributor)
    available = ledger.balances(distributor.id)["withdrawable"]
    if amount > available:
        db.session.rollback()
        raise ValidationFailed(
            {
                "amount": (
                    "above_balance",
                    _("You can withdraw at most %(amount)s yuan.", amount=fen_to_yuan(max(0, available))),
                )
            }
        )
    withdrawal = Withdrawal(distributor_id=distributor.id, amount=amount, status="requested")
    db.session.add(withdrawal)
    db.session.flush()
    ledger.post(distributor.id, "withdraw", amount, "withdrawable", "withdrawing", withdrawal_id=withdrawal.id)
    record_audit(
        "distribution.withdrawal_requested",
        actor=customer,
        store_id=current_store().id,
        target=f"withdrawal:{withdrawal.id}",
        detail={"distributor": distributor.id, "amount": amount},
    )
    db.session.commit()
    return withdrawal


def decide(withdrawal: Withdrawal, staff_actor, data) -> Withdrawal:
    """``approve``: pay it and record the payout (method, reference); or reject with a reason."""
    approve = data.get("approve") in (True, "1", "true", "yes", "on")
    errors = Errors()
    method = form_text(data, "payout_method", 20)
    reference = form_text(data, "payout_reference", 64)
    reason = form_text(data, "reason", 200)
    if approve and method not in rules.PAYOUT_METHODS:
        errors.add("payout_method", "required", _("Choose how the money was paid."))
    if approve and not reference:
        errors.add("payout_reference", "required", _("Enter the transfer's reference number."))
    if not approve and not reason:
        errors.add("reason", "required", _("Give the reason: the shopper will see it."))
    errors.raise_if_any()
    target = "paid" if approve else "rejected"
    values = {"status": target, "decided_at": _now(), "decided_by": f"staff:{getattr(staff_actor, 'id', '')}"}
    values.update({"payout_method": method, "payout_reference": reference} if approve else {"reason": reason})
    moved = db.session.execute(
        sa.update(Withdrawal)
        .where(Withdrawal.id == withdrawal.id, Withdrawal.status == "requested")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        db.session.rollback()
        raise DistributionProblem("already_decided", _("This withdrawal was decided already."))
    if approve:
        ledger.post(
            withdrawal.distributor_id,
            "payout",
            withdrawal.amount,
            "withdrawing",
            "withdrawn",
            withdrawal_id=withdrawal.id,
        )
    else:
        ledger.post(
            withdrawal.distributor_id,
            "withdraw_back",
            withdrawal.amount,
            "withdrawing",
            "withdrawable",
            withdrawal_id=withdrawal.id,
        )
    record_audit(
        f"distribution.withdrawal_{target}",
        actor=staff_actor,
        store_id=current_store().id,
        target=f"withdrawal:{withdrawal.id}",
        detail={"amount": withdrawal.amount, "payout_method": method, "payout_reference": reference, "reason": reason},
    )
    db.session.commit()
    db.session.refresh(withdrawal)
    return withdrawal
