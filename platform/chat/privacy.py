"""The chat's part of a shopper's data rights (:mod:`mallow.privacy.sections`): the export holds
the shopper's conversation (every message, theirs and the store's answers); deleting the account
deletes the conversation and its messages (what either side typed can name the shopper: "张三您好,
寄到…"). Registered by ``create_app``."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.chat.models import ChatMessage, Conversation
from mallow.db import db

KEY = "chat"


def collect(customer) -> dict | None:
    conversation = db.session.execute(
        sa.select(Conversation).where(Conversation.customer_id == customer.id)
    ).scalar_one_or_none()
    if conversation is None:
        return None
    messages = db.session.execute(
        sa.select(ChatMessage).where(ChatMessage.conversation_id == conversation.id).order_by(ChatMessage.id)
    ).scalars()
    return {
        "status": conversation.status,
        "messages": [
            {
                "from": message.sender_kind,
                "text": message.text,
                "order_id": message.order_id,
                "at": message.created_at.isoformat() if message.created_at else None,
            }
            for message in messages
        ],
    }


def erase(customer) -> int:
    """Delete the shopper's conversation with every message in it; the number of rows gone."""
    ids = sa.select(Conversation.id).where(Conversation.customer_id == customer.id).scalar_subquery()
    gone = db.session.execute(sa.delete(ChatMessage).where(ChatMessage.conversation_id.in_(ids))).rowcount or 0
    gone += db.session.execute(sa.delete(Conversation).where(Conversation.customer_id == customer.id)).rowcount or 0
    return gone
