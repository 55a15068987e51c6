"""Coupons (优惠券): the merchant's definition (:class:`Coupon`) and the coupons shoppers hold
(:class:`CustomerCoupon`), each with its state machine."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.db import StoreModel, utcnow
from mallow.statemachine import StateMachine

#: 满减 (amount off over a threshold), percent off with a cap, amount off without a threshold
KINDS = ("amount_off", "percent_off", "no_threshold")
SCOPES = ("store", "categories", "products")
VALIDITIES = ("fixed", "days_after_claim")
#: how a shopper got a coupon
SOURCES = ("claim", "issue", "new_member", "reward")
AUTO_ISSUE = ("new_member",)
#: the store's marketing plugins a coupon may stack with (a line priced by one of them takes the
#: coupon only when it is listed); the default: with distribution, not on flash-sale lines
MARKETING_PLUGINS = ("distribution", "flashsale", "groupbuy")
DEFAULT_STACKS_WITH = ("distribution",)

COUPON_STATES = StateMachine(
    "coupon",
    {
        "draft": {"active", "ended"},
        "active": {"paused", "ended"},
        "paused": {"active", "ended"},
        "ended": set(),
    },
)
#: ``returned``: given back by a full refund while still valid, usable again like ``available``
CUSTOMER_COUPON_STATES = StateMachine(
    "customer_coupon",
    {
        "available": {"locked", "expired"},
        "locked": {"available", "used"},
        "used": {"returned"},
        "returned": {"locked", "expired"},
        "expired": set(),
    },
)
#: a shopper's coupons that can go on an order
USABLE_STATES = ("available", "returned")


class Coupon(StoreModel):
    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: 满减: the eligible lines must reach this (fen); 0 for the other kinds
    threshold_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: amount off (fen) of ``amount_off`` and ``no_threshold``
    amount_fen: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    #: percent off (1–99: 20 = 20 % off, 八折) of ``percent_off``, at most ``cap_fen`` (None: no cap)
    percent: Mapped[int | None] = mapped_column(nullable=True)
    cap_fen: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    scope: Mapped[str] = mapped_column(sa.String(16), default="store")
    #: the category or product ids of a ``categories`` / ``products`` scope
    scope_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    validity: Mapped[str] = mapped_column(sa.String(16), default="fixed")
    #: ``fixed``: the coupon is valid (and can be claimed) from ``starts_at`` until ``ends_at``;
    #: ``days_after_claim``: claimable in that window (each end optional), valid ``valid_days`` from claiming
    starts_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    valid_days: Mapped[int | None] = mapped_column(nullable=True)
    total_quantity: Mapped[int] = mapped_column()
    per_shopper_limit: Mapped[int] = mapped_column(default=1)
    issued_count: Mapped[int] = mapped_column(default=0)
    used_count: Mapped[int] = mapped_column(default=0)
    #: plugin names whose priced lines still take the coupon (see :data:`MARKETING_PLUGINS`)
    stacks_with: Mapped[list] = mapped_column(sa.JSON, default=lambda: list(DEFAULT_STACKS_WITH))
    status: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    #: ``new_member``: every new shopper of the store gets one (None: only by claim or issue)
    auto_issue: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    #: given only by Mallow itself (a share reward, :func:`mallow.coupons.service.grant_reward`):
    #: never in the claim centre, the product page's 领券 row or the console's list, never claimed
    private: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint("issued_count <= total_quantity", name="not_over_issued"),
        sa.CheckConstraint("issued_count >= 0 AND used_count >= 0", name="counts"),
    )


class CustomerCoupon(StoreModel):
    """One coupon a shopper holds: its validity, its state, the order it is on."""

    __tablename__ = "customer_coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(sa.ForeignKey("coupons.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(16), default="available")
    valid_from: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    #: the order it is locked on or was used on (kept after a return, for the history)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="SET NULL"), nullable=True)
    source: Mapped[str] = mapped_column(sa.String(16), default="claim")
    #: an issue job's batch: a retried job skips the shoppers it issued to already
    batch: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    claimed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: when the expiry sweep dealt with its "expires soon" warning (sent, or not due: held for
    #: less than the warning window); NULL: not yet
    expiry_warned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    coupon: Mapped[Coupon] = relationship(lazy="joined")

    __table_args__ = (
        sa.Index("ix_customer_coupons_customer_status", "customer_id", "status"),
        sa.Index("ix_customer_coupons_order_id", "order_id"),
    )
