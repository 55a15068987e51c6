"""我的's 消息 and 客服 entries: each with the shopper's unread count as its badge, and the page's
statements counted (two small counts more than before these entries, no more)."""

from __future__ import annotations

import re

from mallow.testing import make_store
from mallow.testing.sql import listing, statements
from tests.storefront_account.test_account_page import sign_in


def _customer_id(app, shop, phone: str) -> int:
    import sqlalchemy as sa

    from mallow.accounts.models import Customer
    from mallow.db import db
    from mallow.security import crypto
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        return db.session.execute(
            sa.select(Customer.id).where(Customer.login_digest == crypto.digest(phone))
        ).scalar_one()


def _tell(app, shop, customer_id: int, key: str) -> None:
    from mallow.db import db
    from mallow.notifications.service import notify_customer
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        notify_customer("group_succeeded", customer_id, key, {"title": "临安山核桃"})
        db.session.commit()


def _answer(app, shop, customer_id: int, text: str) -> None:
    """The shopper asked, the merchant answered (unread by the shopper)."""
    import sqlalchemy as sa

    from mallow.accounts.models import Customer, Staff
    from mallow.chat import service
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        service.send_as_shopper(db.session.get(Customer, customer_id), "有货吗？")
        conversation = service.conversation_of(customer_id)
        staff = db.session.execute(sa.select(Staff).order_by(Staff.id)).scalars().first()
        service.send_as_staff(conversation, staff, text)
        service.commit()


def _entry(page: str, key: str) -> str:
    start = page.index(f'id="entry-{key}"')
    return page[start : page.index("</a>", start)]


def test_messages_and_chat_entries_show_their_unread_counts(app):
    shop = make_store(app)
    client = app.test_client()
    phone = sign_in(app, shop, client)
    customer_id = _customer_id(app, shop, phone)

    # nothing unread: both entries, no badge
    page = client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert f'href="{shop.prefix}/account/messages" id="entry-messages"' in page
    assert f'href="{shop.prefix}/chat" id="entry-chat"' in page
    assert "消息" in _entry(page, "messages") and "acc-badge" not in _entry(page, "messages")
    assert "联系客服" in _entry(page, "chat") and "acc-badge" not in _entry(page, "chat")

    # two notifications and an answer from the merchant: the badges say so
    _tell(app, shop, customer_id, "t:1")
    _tell(app, shop, customer_id, "t:2")
    _answer(app, shop, customer_id, "有的，今天发货")
    page = client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert '<i class="acc-badge">2</i>' in _entry(page, "messages")
    assert '<i class="acc-badge">1</i>' in _entry(page, "chat")

    # one message opened, the chat read: the badges follow
    listed = client.get(f"{shop.prefix}/account/messages").get_data(as_text=True)
    first = re.findall(rf'href="{shop.prefix}/account/messages/(\d+)"', listed)[0]
    assert client.get(f"{shop.prefix}/account/messages/{first}").status_code == 200
    client.get(f"{shop.prefix}/chat")
    page = client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert '<i class="acc-badge">1</i>' in _entry(page, "messages") and "acc-badge" not in _entry(page, "chat")
    listed = client.get(f"{shop.prefix}/account/messages").get_data(as_text=True)
    for number in set(re.findall(rf'href="{shop.prefix}/account/messages/(\d+)"', listed)):
        client.get(f"{shop.prefix}/account/messages/{number}")
    page = client.get(f"{shop.prefix}/account").get_data(as_text=True)
    assert "acc-badge" not in _entry(page, "messages") and "acc-badge" not in _entry(page, "chat")


def test_the_account_page_statement_count(app):
    shop = make_store(app)
    client = app.test_client()
    sign_in(app, shop, client)
    client.get(f"{shop.prefix}/account")  # warm
    with statements() as seen:
        assert client.get(f"{shop.prefix}/account").status_code == 200
    # the order tabs, after-sales, usable coupons, the privacy consent, the cart badge, and the
    # two unread counts of 消息 and 客服: one statement each
    assert len(seen) == 7, listing(seen)
    assert sum("notifications" in s for s in seen) == 1 and sum("chat_conversations" in s for s in seen) == 1
