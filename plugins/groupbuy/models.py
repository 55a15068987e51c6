"""Group-buy tables, in each enabling store's own schema (plugin metadata, own Alembic chain).

* ``groupbuy_campaigns`` — what is sold, how (tiers, size, window, limits) and how much of it
  (``quota`` units, ``sold`` taken by live orders).
* ``groupbuy_groups`` — one group: opened when its leader *pays*; ``seats`` = paid + unpaid
  members (a seat is held from ordering until payment or cancellation), ``headcount`` = paid
  members. ``tiers`` and ``size`` are copied from the campaign when the group opens, so editing
  a campaign never changes what a running group promised.
* ``groupbuy_members`` — one per group-buy order (exactly one line).
* ``groupbuy_shopper_units`` — units a shopper holds in a campaign, across all their orders
  (the per-shopper limit is one conditional UPDATE of this row).
* ``groupbuy_refunds`` — money the plugin owes a member (a failed group: everything; a group
  that ended on a cheaper tier: the difference), worked off by the sweep, retried, logged.
* ``groupbuy_events`` — what happened to groups and members, for the console.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.sdk import StateMachine, plugin_model_base, utcnow

Base = plugin_model_base("groupbuy")

#: a group opens when its leader pays, then either fills, runs out of time, or empties
GROUP_STATES = StateMachine(
    "groupbuy_group",
    {
        "open": {"succeeded", "failed", "cancelled"},
        "succeeded": set(),
        "failed": set(),
        "cancelled": set(),  # nobody left before the deadline
    },
)

#: ``pending``: ordered, not paid (holds a seat); ``joined``: paid, counted; ``dropped``: the
#: unpaid order closed; ``left``: refunded in full by an after-sales refund; ``refunded``: the
#: group failed (or closed before the payment arrived) and the plugin refunds everything
MEMBER_STATES = StateMachine(
    "groupbuy_member",
    {
        "pending": {"joined", "dropped", "refunded"},
        "joined": {"left", "refunded"},
        "dropped": set(),
        "left": set(),
        "refunded": set(),
    },
)

REFUND_STATES = StateMachine(
    "groupbuy_refund",
    {
        "due": {"processing", "done", "failed"},
        "processing": {"due", "done"},
        "failed": {"due"},  # the merchant retries it from the console
        "done": set(),
    },
)


class Campaign(Base):
    __tablename__ = "groupbuy_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(60))
    product_id: Mapped[int] = mapped_column(index=True)
    #: SKUs sold in the campaign; empty = every SKU of the product
    sku_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    group_size: Mapped[int] = mapped_column()
    #: ``[{"size": 2, "bp": 9500}, …]``: sizes ascending, rates in basis points of the SKU price
    tiers: Mapped[list] = mapped_column(sa.JSON)
    #: extra discount for the member who opens a group, basis points (0 = none)
    leader_bp: Mapped[int] = mapped_column(default=0)
    window_minutes: Mapped[int] = mapped_column(default=24 * 60)
    starts_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True))
    ends_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True))
    quota: Mapped[int] = mapped_column()
    sold: Mapped[int] = mapped_column(default=0)
    per_order_limit: Mapped[int | None] = mapped_column(nullable=True)
    per_shopper_limit: Mapped[int | None] = mapped_column(nullable=True)
    new_customers_only: Mapped[bool] = mapped_column(default=False)
    #: None = off (the default). Otherwise: at the deadline, groups with at least this share of
    #: their seats paid succeed anyway, at the merchant's cost; no member is ever invented
    auto_complete_percent: Mapped[int | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(sa.String(8), default="active")  # active | ended
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint("sold >= 0", name="sold_not_negative"),
        sa.CheckConstraint("group_size >= 2", name="group_size"),
        sa.CheckConstraint("status IN ('active', 'ended')", name="status"),
    )

    def covers(self, sku_id: int) -> bool:
        return not self.sku_ids or sku_id in self.sku_ids


class Group(Base):
    __tablename__ = "groupbuy_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("groupbuy_campaigns.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="open", index=True)
    size: Mapped[int] = mapped_column()
    tiers: Mapped[list] = mapped_column(sa.JSON)
    leader_member_id: Mapped[int | None] = mapped_column(nullable=True)
    seats: Mapped[int] = mapped_column(default=1)
    headcount: Mapped[int] = mapped_column(default=1)
    opened_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    deadline: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), index=True)
    closed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: the tier every member finally pays (set on success)
    final_bp: Mapped[int | None] = mapped_column(nullable=True)
    auto_completed: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        sa.CheckConstraint("headcount >= 0 AND headcount <= seats AND seats <= size", name="seats"),
        sa.CheckConstraint("status IN ('open', 'succeeded', 'failed', 'cancelled')", name="status"),
    )


class Member(Base):
    __tablename__ = "groupbuy_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("groupbuy_campaigns.id"), index=True)
    #: None until the opener pays (the group is created then)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("groupbuy_groups.id"), nullable=True, index=True)
    order_id: Mapped[int] = mapped_column(unique=True)
    customer_id: Mapped[int] = mapped_column(index=True)
    sku_id: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    #: the SKU's price and the per-unit price this member was charged (fen)
    unit_price: Mapped[int] = mapped_column(sa.BigInteger)
    paid_unit: Mapped[int] = mapped_column(sa.BigInteger)
    #: opened the group (so was priced with the leader discount); leadership itself is
    #: ``Group.leader_member_id`` and moves on when the leader leaves
    opener: Mapped[bool] = mapped_column(default=False)
    leader_bp: Mapped[int] = mapped_column(default=0)
    #: 1, 2, … in the order members paid (leadership passes to the lowest remaining)
    seq: Mapped[int | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending", index=True)
    placed_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    joined_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    ended_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'joined', 'dropped', 'left', 'refunded')", name="status"),
        sa.CheckConstraint("quantity > 0", name="quantity"),
    )


class ShopperUnits(Base):
    __tablename__ = "groupbuy_shopper_units"

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("groupbuy_campaigns.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(primary_key=True)
    units: Mapped[int] = mapped_column(default=0)

    __table_args__ = (sa.CheckConstraint("units >= 0", name="units_not_negative"),)


class RefundTask(Base):
    __tablename__ = "groupbuy_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("groupbuy_members.id"), index=True)
    order_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # full | difference
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(10), default="due", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(80), nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("member_id", "kind", name="uq_groupbuy_refunds_member_kind"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("status IN ('due', 'processing', 'done', 'failed')", name="status"),
    )

    @property
    def reason(self) -> str:
        """The payments refund reason: finds this task's refunds again after a crash."""
        return f"groupbuy:{self.kind}:{self.id}"


class Event(Base):
    __tablename__ = "groupbuy_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    campaign_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    group_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    member_id: Mapped[int | None] = mapped_column(nullable=True)
    order_id: Mapped[int | None] = mapped_column(nullable=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
