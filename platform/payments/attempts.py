"""Payment attempts and the rules every payment step shares.

An attempt (:class:`~mallow.payments.models.Payment`) is one try at paying an order, with its own
``out_trade_no``. Locking: every decision about an order's money first takes the order's row
(:func:`lock_order`: a no-op conditional UPDATE, a row lock on PostgreSQL, the write lock on
SQLite), so two requests cannot both pass a check and both write. Provider calls (network) are
made after the commit, never inside the lock.
"""

from __future__ import annotations

from datetime import datetime, UTC

import sqlalchemy as sa

from mallow.db import db
from mallow.orders.models import Order
from mallow.payments.models import PAYMENT_STATES, Payment


class PaymentProblem(Exception):
    """A payment or refund cannot be made: ``code`` for machines, ``message`` for people,
    ``status`` the HTTP status the API answers with. Nothing was written."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def lock_order(order: Order) -> None:
    """Take the order's row for the rest of the transaction."""
    db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id)
        .values(refunded_total=Order.refunded_total)
        .execution_options(synchronize_session=False)
    )


def set_payment_status(payment: Payment, target: str) -> bool:
    sources = [s for s in PAYMENT_STATES.states if PAYMENT_STATES.can(s, target)]
    result = db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(sources))
        .values(status=target)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(payment)
    return result.rowcount == 1


def payment_by_out_trade_no(out_trade_no: str) -> Payment | None:
    return db.session.execute(sa.select(Payment).where(Payment.out_trade_no == out_trade_no)).scalar_one_or_none()
