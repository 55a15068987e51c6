from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, utcnow
from mallow.statemachine import StateMachine

#: refund_only: requested → approved → refunded; return_refund: requested → approved →
#: returned (goods back, stock back) → refunded; either may be rejected or withdrawn.
AFTERSALE_STATES = StateMachine(
    "aftersale",
    {
        "requested": {"approved", "rejected", "withdrawn"},
        "approved": {"returned", "refunded"},
        "returned": {"refunded"},
        "refunded": set(),
        "rejected": set(),
        "withdrawn": set(),
    },
)
#: a request in these states is in progress: the order's receipt and completion timers wait
OPEN_STATES = ("requested", "approved", "returned")


class AfterSale(StoreModel):
    __tablename__ = "aftersales"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # refund_only | return_refund
    status: Mapped[str] = mapped_column(sa.String(12), default="requested", index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # fen requested
    reason: Mapped[str] = mapped_column(sa.String(200), info={"personal": True})
    photos: Mapped[list] = mapped_column(sa.JSON, default=list)
    merchant_reason: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    return_carrier: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    return_tracking_number: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    decide_by: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), index=True)
    decided_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('refund_only', 'return_refund')", name="kind"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )


def open_order_ids() -> sa.Select:
    """The ids of the orders with a request in progress (售后中): ``create_app`` registers this
    query with :mod:`mallow.orders.aftersales_requests`, which orders ask instead of reading this table."""
    return sa.select(AfterSale.order_id).where(AfterSale.status.in_(OPEN_STATES))
