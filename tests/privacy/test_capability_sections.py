"""Later capabilities in a shopper's data rights: the chat, the analytics events and the
shopper's messages (消息) join the export, and deleting the account deletes the conversation
(either side's text can name the shopper) and the messages, and anonymises the events (the
store's figures stay right, nothing links them back)."""

from __future__ import annotations

import sqlalchemy as sa

from mallow.testing import PASSWORD, bearer, make_store

from .test_data_rights import fresh, new_phone, sign_up


def _seed(app, shop, customer_id: int, phone: str) -> None:
    from mallow.analytics.models import AnalyticsEvent
    from mallow.chat.models import ChatMessage, Conversation
    from mallow.db import db
    from mallow.notifications.models import Delivery, Notification, Preference
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        message = Notification(
            event="shipped",
            event_key="order:1:shipped",
            recipient_kind="customer",
            recipient_id=customer_id,
            language="zh_CN",
            title="订单已发货",
            body="您的订单已发货。",
        )
        db.session.add_all([message, Preference(recipient_kind="customer", recipient_id=customer_id, language="zh_CN")])
        db.session.flush()
        db.session.add(
            Delivery(notification_id=message.id, channel="sms", unique_key=f"order:1:shipped:c{customer_id}:sms")
        )
        conversation = Conversation(customer_id=customer_id, status="open")
        db.session.add(conversation)
        db.session.flush()
        db.session.add_all(
            [
                ChatMessage(
                    conversation_id=conversation.id,
                    sender_kind="shopper",
                    sender_id=customer_id,
                    text=f"我的电话 {phone}",
                ),
                ChatMessage(conversation_id=conversation.id, sender_kind="staff", sender_id=None, text="张先生您好"),
                # a view on a browser before signing in, then the same browser signed in
                AnalyticsEvent(kind=1, visitor="v-browser-1", customer_id=None, path="/"),
                AnalyticsEvent(
                    kind=2, visitor="v-browser-1", customer_id=customer_id, product_id=7, path="/products/7"
                ),
                AnalyticsEvent(kind=1, visitor="v-someone-else", customer_id=None, path="/"),
            ]
        )
        db.session.commit()


def _rows(app, shop):
    from mallow.analytics.models import AnalyticsEvent
    from mallow.chat.models import ChatMessage, Conversation
    from mallow.db import db
    from mallow.notifications.models import Delivery, Notification, Preference
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        told = [
            db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar_one()
            for m in (Notification, Delivery, Preference)
        ]
        chats = db.session.execute(sa.select(sa.func.count()).select_from(ChatMessage)).scalar_one()
        conversations = db.session.execute(sa.select(sa.func.count()).select_from(Conversation)).scalar_one()
        events = db.session.execute(
            sa.select(AnalyticsEvent.visitor, AnalyticsEvent.customer_id).order_by(AnalyticsEvent.id)
        ).all()
    return chats, conversations, [tuple(e) for e in events], told


def test_the_chat_and_the_events_are_exported_then_deleted_and_anonymised(app):
    shop = make_store(app)
    api = fresh(app)
    phone = new_phone()
    token, _address = sign_up(api, shop, phone, recipient="张三", detail="文三路 90 号", address_phone=new_phone())
    customer_id = api.get(f"{shop.prefix}/api/me", headers=bearer(token)).get_json()["id"]
    _seed(app, shop, customer_id, phone)

    export = api.get(f"{shop.prefix}/api/me/export", headers=bearer(token))
    assert export.status_code == 200
    data = export.get_json()
    assert [m["text"] for m in data["chat"]["messages"]] == [f"我的电话 {phone}", "张先生您好"]
    assert data["analytics"]["count"] == 2  # the signed-in view and the same browser's earlier one
    assert {e["path"] for e in data["analytics"]["events"]} == {"/", "/products/7"}
    assert [m["title"] for m in data["notifications"]["messages"]] == ["订单已发货"]

    deleted = api.post(
        f"{shop.prefix}/api/me/delete", headers=bearer(token), json={"confirm": "注销", "password": PASSWORD}
    )
    assert deleted.status_code == 200, deleted.get_json()
    chats, conversations, events, told = _rows(app, shop)
    assert told == [0, 0, 0]
    assert (chats, conversations) == (0, 0)
    assert len(events) == 3  # the store's figures keep every view
    mine, other = events[:2], events[2]
    assert all(customer is None for _visitor, customer in mine)
    assert mine[0][0] == mine[1][0] and mine[0][0] not in ("v-browser-1", f"c{customer_id}")  # one pseudonym
    assert other == ("v-someone-else", None)  # another visitor untouched
