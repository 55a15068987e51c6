"""The store's share codes and what they brought: who referred a new shopper's first order."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, utcnow


class ShareCode(StoreModel):
    """A shopper's own referral code (stable, unguessable), made the first time they share."""

    __tablename__ = "share_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ShareReferral(StoreModel):
    """The first order of a new shopper who came through a share link: who shared it. When the
    order completes (``completed_at``) the merchant's rule of that moment is kept on the referral
    (``reward_kind``, ``reward_amount``; None: no reward was due) and the reward granted once
    (``rewarded_at``, ``reward_ref``): :mod:`mallow.sharing.rewards`."""

    __tablename__ = "share_referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: one first order per shopper
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    sharer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: when the order completed (the reward is due from then); None until it does
    completed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: when the reward was granted; None until then
    rewarded_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: the rule when the order completed: ``coupon`` or ``points`` (None: the rule was off, or a
    #: test order: nothing is due) and its amount (fen off, or points)
    reward_kind: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    reward_amount: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    #: what was granted: the shopper's coupon (``customer_coupons.id``) or the points entry
    #: (``point_entries.id``)
    reward_ref: Mapped[int | None] = mapped_column(nullable=True)

    __table_args__ = (sa.CheckConstraint("buyer_id <> sharer_id", name="not_self"),)
