"""The distribution plugin's tables, in each store's own schema (placeholder schema ``store``).

They name core rows (customers, orders, order lines, products) by id without foreign keys to
core tables: the plugin's metadata is its own, and core data (e.g. a deleted shopper account)
must never be blocked by a plugin's rows.

Money is integer fen; rates are basis points (``1000`` = 10 %).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.sdk import plugin_model_base, utcnow

Base = plugin_model_base("distribution")

DISTRIBUTOR_STATES = ("pending", "approved", "rejected", "suspended")
COMMISSION_STATES = ("pending", "frozen", "settled", "reversed")
WITHDRAWAL_STATES = ("requested", "paid", "rejected")
#: ledger accounts: ``merchant`` is the store's side of every posting (what it owes or paid)
ACCOUNTS = ("merchant", "pending", "frozen", "withdrawable", "withdrawing", "withdrawn")


class Grade(Base):
    """A distributor grade the merchant assigns by hand (never earned by recruiting people);
    its rates override the store's where set."""

    __tablename__ = "distribution_grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(30))
    level1_rate_bp: Mapped[int | None] = mapped_column(nullable=True)
    level2_rate_bp: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(
            "level1_rate_bp IS NULL OR (level1_rate_bp >= 0 AND level1_rate_bp <= 10000)", name="level1_rate"
        ),
        sa.CheckConstraint(
            "level2_rate_bp IS NULL OR (level2_rate_bp >= 0 AND level2_rate_bp <= 10000)", name="level2_rate"
        ),
    )


class Distributor(Base):
    """A shopper who applied to promote the store. Joining costs nothing and needs no purchase."""

    __tablename__ = "distribution_distributors"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(unique=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending", index=True)
    grade_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("store.distribution_grades.id", ondelete="SET NULL"), nullable=True
    )
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    applied_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str] = mapped_column(sa.String(40), default="")
    #: touched to take the row's lock before reading balances (withdrawals)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'suspended')", name="status"),)


class Binding(Base):
    """Which distributor referred a shopper (one at a time per shopper). ``expires_at`` is set
    in the N-day mode: past it the binding pays nothing and another link may re-bind."""

    __tablename__ = "distribution_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(unique=True)
    distributor_id: Mapped[int] = mapped_column(
        sa.ForeignKey("store.distribution_distributors.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(sa.String(12))  # link | order | api | transfer
    bound_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class ProductRule(Base):
    """A product's own rates (override grade and store rates), or its exclusion."""

    __tablename__ = "distribution_product_rules"

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    excluded: Mapped[bool] = mapped_column(default=False)
    level1_rate_bp: Mapped[int | None] = mapped_column(nullable=True)
    level2_rate_bp: Mapped[int | None] = mapped_column(nullable=True)

    __table_args__ = (
        sa.CheckConstraint(
            "level1_rate_bp IS NULL OR (level1_rate_bp >= 0 AND level1_rate_bp <= 10000)", name="level1_rate"
        ),
        sa.CheckConstraint(
            "level2_rate_bp IS NULL OR (level2_rate_bp >= 0 AND level2_rate_bp <= 10000)", name="level2_rate"
        ),
    )


class Commission(Base):
    """What one order line earns one distributor at one level (1: the buyer's referrer, 2: that
    referrer's own referrer; the database refuses any other level)."""

    __tablename__ = "distribution_commissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(index=True)
    order_number: Mapped[str] = mapped_column(sa.String(32))
    order_line_id: Mapped[int] = mapped_column()
    product_id: Mapped[int] = mapped_column()
    buyer_id: Mapped[int] = mapped_column()
    distributor_id: Mapped[int] = mapped_column(sa.ForeignKey("store.distribution_distributors.id"), index=True)
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    base: Mapped[int] = mapped_column(sa.BigInteger)  # the line's paid amount, fen
    rate_bp: Mapped[int] = mapped_column()
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    reversed_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending", index=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    release_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    settled_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("order_line_id", "level", name="uq_distribution_commissions_line_level"),
        sa.CheckConstraint("level IN (1, 2)", name="at_most_two_levels"),
        sa.CheckConstraint("amount >= 0 AND reversed_amount >= 0 AND reversed_amount <= amount", name="amounts"),
        sa.CheckConstraint("amount <= base", name="within_base"),
        sa.CheckConstraint("status IN ('pending', 'frozen', 'settled', 'reversed')", name="status"),
    )

    @property
    def net(self) -> int:
        return self.amount - self.reversed_amount


class MissedAccrual(Base):
    """A paid order whose commissions could not be written when it was paid (the hook failed):
    the settlement sweep accrues it and removes the row. Written in the payment's transaction,
    so orders paid while the plugin was off are never mistaken for missed ones."""

    __tablename__ = "distribution_missed_accruals"

    order_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    failed_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Withdrawal(Base):
    """A distributor's request to be paid out; the merchant pays (recording how) or rejects."""

    __tablename__ = "distribution_withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    distributor_id: Mapped[int] = mapped_column(sa.ForeignKey("store.distribution_distributors.id"), index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(10), default="requested", index=True)
    requested_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str] = mapped_column(sa.String(40), default="")
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    #: the payout record: how the money went out, and the transfer's reference
    payout_method: Mapped[str] = mapped_column(sa.String(20), default="")
    payout_reference: Mapped[str] = mapped_column(sa.String(64), default="")

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("status IN ('requested', 'paid', 'rejected')", name="status"),
    )


class LedgerEntry(Base):
    """One side of a posting. Every posting (``txn``) has entries that sum to zero: money moves
    between a distributor's accounts and the store's (``merchant``), never appears or vanishes.
    A distributor's balance in an account is the sum of its entries there."""

    __tablename__ = "distribution_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    txn: Mapped[str] = mapped_column(sa.String(32), index=True)
    distributor_id: Mapped[int] = mapped_column(sa.ForeignKey("store.distribution_distributors.id"), index=True)
    account: Mapped[str] = mapped_column(sa.String(12))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(20))
    commission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("store.distribution_commissions.id"), nullable=True, index=True
    )
    withdrawal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("store.distribution_withdrawals.id"), nullable=True)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(
            "account IN ('merchant', 'pending', 'frozen', 'withdrawable', 'withdrawing', 'withdrawn')", name="account"
        ),
    )
