"""Membership tables: the store's member levels (:class:`MemberLevel`), a member row per shopper
(:class:`Member`: balance, growth, level, birthday) and the points ledger (:class:`PointEntry`)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, utcnow

#: what a ledger entry records
KINDS = ("earn", "redeem", "return", "clawback", "expire", "adjust", "reward")
#: the kinds that add points: a positive entry of these is a *lot* (``remaining``, ``expires_at``)
LOT_KINDS = ("earn", "return", "reward", "adjust")
#: what levels are measured by: fen of completed spend, or points earned
LEVEL_BASES = ("spend", "points")


class MemberLevel(StoreModel):
    """A member level (会员等级) and its benefits."""

    __tablename__ = "member_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20))
    #: the growth a member needs (fen of completed spend or points earned, by ``level_basis``)
    threshold: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    #: 50..100: the member price as a percentage of the price (95 = 9.5折; 100 = no discount)
    discount_percent: Mapped[int] = mapped_column(default=100)
    free_shipping: Mapped[bool] = mapped_column(default=False)
    #: a coupon of the store given once a year on the member's birthday (None: none)
    birthday_coupon_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("coupons.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("discount_percent BETWEEN 50 AND 100", name="discount_percent"),
        sa.CheckConstraint("threshold >= 0", name="threshold"),
    )


class Member(StoreModel):
    """A shopper's membership: the points balance, the growth, the level, the birthday."""

    __tablename__ = "members"

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    #: the points balance: the sum of the ledger; negative only after a clawback larger than it
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: the value levels are measured by (fen of completed spend or points earned)
    growth: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    level_id: Mapped[int | None] = mapped_column(sa.ForeignKey("member_levels.id", ondelete="SET NULL"), nullable=True)
    birthday: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    #: set once: a second change is refused (birthday coupons are not farmed)
    birthday_set_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: the last year (China time) a birthday coupon was given
    birthday_coupon_year: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class PointEntry(StoreModel):
    """One line of a shopper's points ledger (积分明细)."""

    __tablename__ = "point_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: signed: positive adds points, negative spends them
    points: Mapped[int] = mapped_column(sa.BigInteger)
    balance_after: Mapped[int] = mapped_column(sa.BigInteger)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="SET NULL"), nullable=True)
    #: shown to the shopper as it is (no personal data)
    reason: Mapped[str] = mapped_column(sa.String(120), default="")
    #: a lot's points not yet spent or expired (0 for spending entries)
    remaining: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: when a lot's remaining points expire (None: never, or not a lot)
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: the growth this entry added (+) or took back (-): an order's ``earn`` and ``clawback``
    growth: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: an ``earn`` entry's basis: the fen of goods paid (net of refunds) the points were earned on
    basis: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.Index("ix_point_entries_customer_id", "customer_id", "id"),
        sa.Index("ix_point_entries_order_id", "order_id"),
        sa.Index("ix_point_entries_lots", "remaining", "expires_at"),
        sa.CheckConstraint("remaining >= 0", name="remaining"),
    )
