"""Double-entry postings of commission money.

Each movement is one posting (a ``txn``) of entries summing to zero. The accounts of a
distributor and the store's ``merchant`` side::

    accrue        merchant → pending        (order paid)
    freeze        pending  → frozen         (delivered: the after-sales window runs)
    settle        frozen   → withdrawable   (window over, no open after-sales request)
    reverse       pending|frozen → merchant (refund inside the window, pro rata)
    clawback      withdrawable → merchant   (refund after settlement; the balance may go
                                             below zero and later earnings pay it back)
    withdraw      withdrawable → withdrawing (the distributor asks)
    payout        withdrawing → withdrawn    (the merchant paid, with a payout record)
    withdraw_back withdrawing → withdrawable (the merchant rejected the request)
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from mallow.sdk import db
from mallow_distribution.models import ACCOUNTS, LedgerEntry


def post(
    distributor_id: int,
    kind: str,
    amount: int,
    source: str,
    target: str,
    *,
    commission_id: int | None = None,
    withdrawal_id: int | None = None,
) -> str | None:
    """Move ``amount`` fen from ``source`` to ``target`` for one distributor; returns the txn."""
    if type(amount) is not int:
        raise TypeError("ledger amounts are integer fen")
    if amount == 0:
        return None
    if amount < 0 or source not in ACCOUNTS or target not in ACCOUNTS or source == target:
        raise ValueError(f"bad posting {kind}: {amount} {source} → {target}")
    txn = uuid.uuid4().hex
    for account, signed in ((source, -amount), (target, amount)):
        db.session.add(
            LedgerEntry(
                txn=txn,
                distributor_id=distributor_id,
                account=account,
                amount=signed,
                kind=kind,
                commission_id=commission_id,
                withdrawal_id=withdrawal_id,
            )
        )
    return txn


def balances(distributor_id: int) -> dict[str, int]:
    """Every account of a distributor (``merchant`` is the store's side: minus the others)."""
    db.session.flush()
    rows = db.session.execute(
        sa.select(LedgerEntry.account, sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.distributor_id == distributor_id)
        .group_by(LedgerEntry.account)
    ).all()
    found = {account: 0 for account in ACCOUNTS}
    found.update({account: int(total) for account, total in rows})
    return found


def unbalanced_postings() -> list[str]:
    """Postings whose entries do not sum to zero (always empty; a check for tests and audits)."""
    db.session.flush()
    rows = (
        db.session.execute(
            sa.select(LedgerEntry.txn).group_by(LedgerEntry.txn).having(sa.func.sum(LedgerEntry.amount) != 0)
        )
        .scalars()
        .all()
    )
    return list(rows)
