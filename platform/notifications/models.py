"""The notification tables (the store's schema).

* :class:`Notification` — one per (event, recipient): what happened, in the recipient's language.
  It is also the in-app message (the merchants' 站内信, the shoppers' 消息): ``read_at`` is
  NULL until the recipient opens it. ``(event_key, recipient_kind, recipient_id)`` is unique.
* :class:`Delivery` — one per channel outside the app (``email``, ``sms``, ``wechat``) with its
  state machine (:data:`DELIVERY_STATES`); ``unique_key`` (event key + recipient + channel) is
  unique, so nothing is ever sent twice.
* :class:`Preference` — per recipient: language, and the channels chosen per event (events not
  listed use the defaults of :mod:`mallow.notifications.events`).
* :class:`WeChatSubscription` — a shopper accepted a WeChat subscribe-message template
  (``wx.requestSubscribeMessage``) for an event: each acceptance allows one message.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.db import StoreModel, utcnow
from mallow.statemachine import StateMachine

RECIPIENT_KINDS = ("staff", "customer")
#: pending → sending (claimed by one worker) → sent | retrying | dead; retrying → sending
DELIVERY_STATES = StateMachine(
    "notification delivery",
    {
        "pending": {"sending"},
        "sending": {"sent", "retrying", "dead"},
        "retrying": {"sending"},
        "sent": set(),
        "dead": set(),
    },
)


class Notification(StoreModel):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(32))
    event_key: Mapped[str] = mapped_column(sa.String(120))
    recipient_kind: Mapped[str] = mapped_column(sa.String(8))
    recipient_id: Mapped[int] = mapped_column()
    language: Mapped[str] = mapped_column(sa.String(8))
    title: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.String(500))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    read_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("event_key", "recipient_kind", "recipient_id"),
        sa.Index("ix_notifications_inbox", "recipient_kind", "recipient_id", "read_at"),
        sa.CheckConstraint("recipient_kind IN ('staff', 'customer')", name="recipient_kind"),
    )


class Delivery(StoreModel):
    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    #: event key + recipient + channel: a second delivery of the same message cannot exist
    unique_key: Mapped[str] = mapped_column(sa.String(160), unique=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    sent_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    notification: Mapped[Notification] = relationship(Notification)

    __table_args__ = (
        sa.Index("ix_notification_deliveries_due", "state", "next_attempt_at"),
        sa.CheckConstraint("state IN ('pending', 'sending', 'retrying', 'sent', 'dead')", name="delivery_state"),
    )


class Preference(StoreModel):
    __tablename__ = "notification_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(sa.String(8))
    recipient_id: Mapped[int] = mapped_column()
    language: Mapped[str] = mapped_column(sa.String(8))
    #: event → the channels chosen (``in_app`` is always on, whatever is stored)
    channels: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.UniqueConstraint("recipient_kind", "recipient_id"),)


class WeChatSubscription(StoreModel):
    __tablename__ = "wechat_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(32))
    template_id: Mapped[str] = mapped_column(sa.String(64))
    #: messages still allowed (one per acceptance: WeChat's one-time subscription)
    remaining: Mapped[int] = mapped_column(default=0)
    accepted_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("customer_id", "event"),
        sa.CheckConstraint("remaining >= 0", name="remaining"),
    )
