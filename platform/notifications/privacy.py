"""Notifications' part of a shopper's data rights (:mod:`mallow.privacy.sections`): the export
holds the shopper's messages (消息), their preferences and their WeChat subscriptions; deleting
the account deletes all three (their deliveries go with the messages). What the staff were told
names orders, not the shopper. Registered by ``create_app``."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.db import db
from mallow.notifications.models import Delivery, Notification, Preference, WeChatSubscription

KEY = "notifications"
SHOPPER = "customer"


def _theirs(model):
    return sa.and_(model.recipient_kind == SHOPPER, model.recipient_id == sa.bindparam("customer_id"))


def collect(customer) -> dict | None:
    params = {"customer_id": customer.id}
    messages = db.session.execute(
        sa.select(Notification).where(_theirs(Notification)).order_by(Notification.id), params
    ).scalars()
    preference = db.session.execute(sa.select(Preference).where(_theirs(Preference)), params).scalar_one_or_none()
    subscriptions = db.session.execute(
        sa.select(WeChatSubscription).where(WeChatSubscription.customer_id == customer.id)
    ).scalars()
    data = {
        "messages": [
            {
                "event": n.event,
                "title": n.title,
                "body": n.body,
                "at": n.created_at.isoformat() if n.created_at else None,
                "read": n.read_at is not None,
            }
            for n in messages
        ],
        "preferences": {"language": preference.language, "channels": preference.channels} if preference else None,
        "wechat_subscriptions": [{"event": s.event, "remaining": s.remaining} for s in subscriptions],
    }
    return data if data["messages"] or data["preferences"] or data["wechat_subscriptions"] else None


def erase(customer) -> int:
    params = {"customer_id": customer.id}
    mine = sa.select(Notification.id).where(_theirs(Notification)).scalar_subquery()
    gone = db.session.execute(sa.delete(Delivery).where(Delivery.notification_id.in_(mine)), params).rowcount or 0
    gone += db.session.execute(sa.delete(Notification).where(_theirs(Notification)), params).rowcount or 0
    gone += db.session.execute(sa.delete(Preference).where(_theirs(Preference)), params).rowcount or 0
    gone += (
        db.session.execute(sa.delete(WeChatSubscription).where(WeChatSubscription.customer_id == customer.id)).rowcount
        or 0
    )
    return gone
