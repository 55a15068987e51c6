"""The distribution plugin's part of a shopper's data rights (PIPL): its section of the export
(``mallow_customer_data``) and its erasure when the account is deleted (``mallow_erase_customer``).

What it holds about a shopper: their distributor row (the application ``note`` they typed, the
merchant's ``reason`` addressed to them, their referral code and state), their commissions and
withdrawals (amounts, the payout's method and transfer reference), their ledger balances, and
who referred them (their binding).

The deletion is **refused while the store still owes the distributor money**: any commission not
yet paid out (pending, frozen, withdrawable) or a withdrawal in progress. Paying it needs who
they are (the payout's method and reference, the merchant's contact with them); erasing first
would leave money nobody can claim. A negative balance (a refund clawed back commission already
paid) is the store's to recover and does not refuse the deletion.

Otherwise, in the deletion's transaction: the note and the merchant's reason are emptied, the
distributor is suspended (``decided_by`` ``account_deleted``) and gets a new random code (the old
links and posters bind nobody any more), the payout references of their withdrawals become
``***``, their binding and the bindings of the shoppers they referred are deleted (a deleted
distributor earns nothing; those shoppers may be referred again). Commissions, withdrawals and
the ledger keep their amounts, order numbers and ids: the store's accounts must still add up.
"""

from __future__ import annotations

from datetime import datetime, UTC

import sqlalchemy as sa

from mallow.sdk import db, fen_to_yuan
from mallow_distribution import distributors, ledger
from mallow_distribution.i18n import _
from mallow_distribution.models import Binding, Commission, Distributor, Grade, Withdrawal

#: the balances the store still owes the distributor (the ledger's accounts)
OWED_ACCOUNTS = ("pending", "frozen", "withdrawable", "withdrawing")
REDACTED = "***"
DELETED_BY = "account_deleted"


def _at(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()


def customer_data(customer) -> dict | None:
    """Everything the plugin's tables hold about ``customer``, as plain JSON (money in fen)."""
    found: dict = {}
    bound = db.session.execute(sa.select(Binding).where(Binding.customer_id == customer.id)).scalar_one_or_none()
    if bound is not None:
        found["referred"] = {
            "source": bound.source,
            "bound_at": _at(bound.bound_at),
            "expires_at": _at(bound.expires_at),
        }
    distributor = distributors.of_customer(customer.id)
    if distributor is not None:
        grade = db.session.get(Grade, distributor.grade_id) if distributor.grade_id else None
        found["distributor"] = {
            "code": distributor.code,
            "status": distributor.status,
            "note": distributor.note,
            "reason": distributor.reason,
            "grade": grade.name if grade is not None else None,
            "applied_at": _at(distributor.applied_at),
            "decided_at": _at(distributor.decided_at),
            "balances": {account: amount for account, amount in ledger.balances(distributor.id).items()},
        }
        found["commissions"] = [
            {
                "order_number": c.order_number,
                "level": c.level,
                "base": c.base,
                "rate_bp": c.rate_bp,
                "amount": c.amount,
                "reversed_amount": c.reversed_amount,
                "status": c.status,
                "created_at": _at(c.created_at),
                "settled_at": _at(c.settled_at),
            }
            for c in db.session.execute(
                sa.select(Commission).where(Commission.distributor_id == distributor.id).order_by(Commission.id)
            ).scalars()
        ]
        found["withdrawals"] = [
            {
                "amount": w.amount,
                "status": w.status,
                "requested_at": _at(w.requested_at),
                "decided_at": _at(w.decided_at),
                "payout_method": w.payout_method,
                "payout_reference": w.payout_reference,
                "reason": w.reason,
            }
            for w in db.session.execute(
                sa.select(Withdrawal).where(Withdrawal.distributor_id == distributor.id).order_by(Withdrawal.id)
            ).scalars()
        ]
    return found or None


def blockers(distributor: Distributor) -> list[str]:
    balances = ledger.balances(distributor.id)
    owed = sum(max(balances.get(account, 0), 0) for account in OWED_ACCOUNTS)
    if owed <= 0:
        return []
    return [
        _(
            "The store still owes you ¥%(amount)s of distribution commission: wait until it is paid out "
            "(withdraw it once it can be withdrawn), then delete the account.",
            amount=fen_to_yuan(owed),
        )
    ]


def erase_customer(customer) -> list[str] | None:
    """Erase what identifies ``customer`` in the plugin's tables, or say why not (see the module)."""
    distributor = distributors.of_customer(customer.id)
    if distributor is not None:
        refused = blockers(distributor)
        if refused:
            return refused
        code = distributors.new_code()
        for _attempt in range(5):
            if db.session.execute(sa.select(Distributor.id).where(Distributor.code == code)).first() is None:
                break
            code = distributors.new_code()
        distributor.note, distributor.reason, distributor.code = "", "", code
        distributor.status, distributor.decided_by = "suspended", DELETED_BY
        distributor.decided_at = datetime.now(UTC)
        db.session.execute(
            sa.update(Withdrawal)
            .where(Withdrawal.distributor_id == distributor.id)
            .values(reason="", payout_reference=sa.case((Withdrawal.payout_reference == "", ""), else_=REDACTED))
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.delete(Binding)
            .where(Binding.distributor_id == distributor.id)
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        sa.delete(Binding).where(Binding.customer_id == customer.id).execution_options(synchronize_session=False)
    )
    db.session.flush()
    return None
