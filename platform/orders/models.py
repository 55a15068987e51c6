"""Orders, their lines, itemised price adjustments and timeline; shopper addresses."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.db import StoreModel, utcnow
from mallow.statemachine import StateMachine

ORDER_STATES = StateMachine(
    "order",
    {
        "pending_payment": {"paid", "cancelled"},
        "paid": {"shipped", "closed"},
        "shipped": {"delivered", "closed"},
        "delivered": {"completed", "closed"},
        "completed": {"closed"},
        "cancelled": set(),
        "closed": set(),  # after a full refund
    },
)


class Address(StoreModel):
    """A shopper's delivery address. Name, phone and street are personal data: encrypted."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    recipient_cipher: Mapped[str] = mapped_column(sa.Text)
    phone_cipher: Mapped[str] = mapped_column(sa.Text)
    province: Mapped[str] = mapped_column(sa.String(20))
    city: Mapped[str] = mapped_column(sa.String(30))
    district: Mapped[str] = mapped_column(sa.String(30), default="")
    #: GB/T 2260 codes of the three levels (:mod:`mallow.regions`); the names above are kept as
    #: they were when saved. None for an address saved before codes, or a level that does not exist.
    province_code: Mapped[str | None] = mapped_column(sa.String(6), nullable=True)
    city_code: Mapped[str | None] = mapped_column(sa.String(6), nullable=True)
    district_code: Mapped[str | None] = mapped_column(sa.String(6), nullable=True)
    detail_cipher: Mapped[str] = mapped_column(sa.Text)
    is_default: Mapped[bool] = mapped_column(default=False)


class Order(StoreModel):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    #: no index of its own: ``uq_orders_customer_idempotency`` leads with it (one index entry less
    #: per order; the order's read by shopper and Idempotency-Key probes that index, never walks
    #: the shopper's orders)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"))
    #: indexed with ``pay_deadline`` (``ix_orders_status_pay_deadline``: the status filters, the sweeps)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending_payment")
    #: money, all in fen: total = items_total + sum(adjustments) (shipping is an adjustment too)
    items_total: Mapped[int] = mapped_column(sa.BigInteger)
    total: Mapped[int] = mapped_column(sa.BigInteger)
    refunded_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: the address at ordering time (encrypted JSON), never a live reference
    address_cipher: Mapped[str] = mapped_column(sa.Text)
    province: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str] = mapped_column(sa.String(200), default="", info={"personal": True})  # the shopper's words
    merchant_note: Mapped[str] = mapped_column(sa.String(500), default="")
    carrier: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(80), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    pay_deadline: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True))
    paid_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    shipped_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    completed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    ended_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: a test order: paid through the sandbox (no money moved). Set with the payment, from the
    #: provider; never earns commission, never counts in sales.
    is_test: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    lines: Mapped[list[OrderLine]] = relationship(order_by="OrderLine.id", cascade="all, delete-orphan")
    adjustments: Mapped[list[OrderAdjustment]] = relationship(
        order_by="OrderAdjustment.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan")

    __table_args__ = (
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_orders_customer_idempotency"),
        sa.Index("ix_orders_status_pay_deadline", "status", "pay_deadline"),
        sa.CheckConstraint("total >= 0", name="total_not_negative"),
        sa.CheckConstraint("refunded_total >= 0 AND refunded_total <= total", name="refund_within_total"),
        sa.CheckConstraint(
            "status IN ('pending_payment', 'paid', 'shipped', 'delivered', 'completed', 'cancelled', 'closed')",
            name="status",
        ),
    )


class OrderLine(StoreModel):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(sa.ForeignKey("skus.id"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    title: Mapped[str] = mapped_column(sa.String(120))
    spec_key: Mapped[str] = mapped_column(sa.String(200), default="")
    unit_price: Mapped[int] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column()
    #: unit_price × quantity + this line's adjustments
    total: Mapped[int] = mapped_column(sa.BigInteger)


class OrderAdjustment(StoreModel):
    """One itemised change to the price: who proposed it (``source``: core, coupon, a plugin),
    a machine ``code``, the ``label`` the shopper reads, and the signed ``amount`` in fen."""

    __tablename__ = "order_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("order_lines.id", ondelete="CASCADE"), nullable=True)
    stage: Mapped[str] = mapped_column(sa.String(16))
    source: Mapped[str] = mapped_column(sa.String(40))
    code: Mapped[str] = mapped_column(sa.String(40))
    label: Mapped[str] = mapped_column(sa.String(120))
    amount: Mapped[int] = mapped_column(sa.BigInteger)

    #: the line it changes (None: the whole order); lets one flush insert lines, then adjustments
    line: Mapped[OrderLine | None] = relationship()


class OrderEvent(StoreModel):
    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(sa.String(32))
    actor: Mapped[str] = mapped_column(sa.String(40))  # shopper:1, staff:3, system, provider:wechatpay
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
