"""Payments and refunds of a store's orders (store tables)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, utcnow
from mallow.statemachine import StateMachine

PAYMENT_STATES = StateMachine(
    "payment",
    {
        "created": {"paid", "closed", "failed"},
        "paid": set(),
        "closed": {"paid"},  # a late payment for a closed attempt is still money received: recorded, then refunded
        "failed": set(),
    },
)
REFUND_STATES = StateMachine(
    "refund",
    {
        "processing": {"succeeded", "abnormal", "closed"},
        "abnormal": {"processing", "closed"},
        "succeeded": set(),
        "closed": set(),
    },
)


class Payment(StoreModel):
    """One attempt to pay one order through one provider. Paid only through a verified
    notification or an active query, never because a client says so."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(sa.String(16))  # sandbox | wechatpay
    out_trade_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # fen
    status: Mapped[str] = mapped_column(sa.String(12), default="created")
    transaction_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True, nullable=True)
    payer_openid: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, info={"personal": True})
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    paid_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    __table_args__ = (
        sa.CheckConstraint("status IN ('created', 'paid', 'closed', 'failed')", name="status"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )


class PaymentNotification(StoreModel):
    """Every notification that reached the store, accepted or not (why not, when not).

    An accepted notification is one row. Rejected ones are counted: the same provider, reason
    and ``out_trade_no`` within a window share a row (``count`` of them, the first at
    ``received_at`` with its ``detail``, the last at ``last_seen_at``), so a flood stays small."""

    __tablename__ = "payment_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(16))
    received_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    accepted: Mapped[bool] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.String(40), default="")
    out_trade_no: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    count: Mapped[int] = mapped_column(default=1, server_default="1")
    last_seen_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


class Refund(StoreModel):
    """A refund through the provider. A retry after a timeout reuses ``out_refund_no``."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"))
    aftersale_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aftersales.id"), nullable=True)
    out_refund_no: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(80), default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="processing")
    provider_refund_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount_positive"),)


class PaymentConfig(StoreModel):
    """A store's settings for one payment provider (``sandbox``, ``wechatpay``).

    ``public`` holds what is not secret (WeChat Pay: ``mchid``, ``appid``, the merchant
    certificate serial, the trusted platform public keys by serial). ``secrets_cipher`` is the
    AES-GCM encrypted JSON of the secrets (the merchant private key, the APIv3 key, the official
    account's AppSecret for web authorisation): written by the owner, read only by the server,
    never sent back to a browser or written to a log.
    """

    __tablename__ = "payment_configs"

    provider: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    public: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    secrets_cipher: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(sa.String(40), default="")
