"""The chat's tables, in the store's own schema: one :class:`Conversation` per shopper of the store
(its state, its assigned staff member, an unread count for each side) and its
:class:`ChatMessage` rows (text only, never HTML; an optional order card)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from mallow.db import StoreModel, utcnow
from mallow.statemachine import StateMachine

#: ``open``: nobody took it yet; ``assigned``: a staff member answers it; ``closed``: done (a new
#: message from the shopper opens it again)
CONVERSATION_STATES = StateMachine(
    "conversation",
    {
        "open": {"assigned", "closed"},
        "assigned": {"assigned", "open", "closed"},
        "closed": {"open", "assigned"},
    },
)
#: who wrote a message: the shopper, a staff member, or the store's automatic answer
SENDER_KINDS = ("shopper", "staff", "auto")
#: an automatic answer's reason (``ChatMessage.auto``)
AUTO_KINDS = ("hours", "no_answer", "keyword")
#: the longest message (characters)
MAX_TEXT = 500


class Conversation(StoreModel):
    __tablename__ = "chat_conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    #: the ``Staff`` row answering (None: unassigned)
    staff_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("staff.id", ondelete="SET NULL"), nullable=True, index=True
    )
    #: messages the shopper has not read / the staff have not read
    shopper_unread: Mapped[int] = mapped_column(default=0)
    staff_unread: Mapped[int] = mapped_column(default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True, index=True)
    last_text: Mapped[str] = mapped_column(sa.String(80), default="", info={"personal": True})
    #: when the shopper's oldest unanswered message came (None: answered); the no-answer auto-reply
    waiting_since: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.CheckConstraint("shopper_unread >= 0 AND staff_unread >= 0", name="unread"),)


class ChatMessage(StoreModel):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("chat_conversations.id", ondelete="CASCADE"), index=True)
    sender_kind: Mapped[str] = mapped_column(sa.String(8))
    #: the customer's or the staff row's id (None for the store's automatic answers)
    sender_id: Mapped[int | None] = mapped_column(nullable=True)
    text: Mapped[str] = mapped_column(sa.Text, info={"personal": True})  # what was said: sealed in archives
    #: the order the shopper asked about (shown as a card)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="SET NULL"), nullable=True)
    #: a quick reply (``quick``) or an automatic answer (:data:`AUTO_KINDS`); None: typed
    auto: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.CheckConstraint("sender_kind IN ('shopper', 'staff', 'auto')", name="sender_kind"),)
