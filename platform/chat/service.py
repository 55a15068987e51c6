"""The chat's rules: a shopper's one conversation with the store, sending (with the automatic
answers), reading, assigning and closing, and what the pages and the API show of it.

Nothing here commits: a caller commits, then :func:`announce` wakes the open streams
(:mod:`mallow.chat.realtime`) so that the wake-up never comes before the row can be read.
Authorization is by construction: a shopper reaches only :func:`conversation_of` their own
customer id; staff reach a conversation by id only inside their store's schema.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _

from mallow.accounts.models import Customer, Merchant, Staff
from mallow.chat import realtime, settings as chat_settings
from mallow.chat.models import CONVERSATION_STATES, MAX_TEXT, ChatMessage, Conversation
from mallow.db import db, utcnow
from mallow.money import fen_to_yuan
from mallow.orders.labels import status_label
from mallow.orders.models import Order
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed

#: an "outside service hours" answer at most once in this long per conversation
AWAY_EVERY = timedelta(minutes=30)
FILTERS = ("all", "mine", "unassigned")
PAGE = 50
_PENDING = "mallow.chat.announce"


# --- input -------------------------------------------------------------------------------------


def clean_text(raw) -> str:
    """The message text: stripped, control characters out (line breaks kept), 1–500 characters;
    else :class:`ValidationFailed` on ``text``. Text is stored as typed and escaped on display."""
    text = "".join(ch for ch in str(raw or "") if ch in "\n" or unicodedata.category(ch)[0] != "C").strip()
    if not text:
        raise ValidationFailed({"text": ("required", _("Write a message."))})
    if len(text) > MAX_TEXT:
        raise ValidationFailed({"text": ("too_long", _("A message is at most %(num)s characters.", num=MAX_TEXT))})
    return text


def order_of_shopper(customer_id: int, number) -> Order | None:
    """The shopper's own order by number (None for no number); someone else's or an unknown
    number is a field error on ``order``."""
    number = str(number or "").strip()
    if not number:
        return None
    order = None
    if len(number) <= 32:
        order = db.session.execute(
            sa.select(Order).where(Order.number == number, Order.customer_id == customer_id)
        ).scalar_one_or_none()
    if order is None:
        raise ValidationFailed({"order": ("not_found", _("No such order of yours."))})
    return order


# --- conversations -----------------------------------------------------------------------------


def conversation_of(customer_id: int, *, create: bool = False) -> Conversation | None:
    found = db.session.execute(
        sa.select(Conversation).where(Conversation.customer_id == customer_id)
    ).scalar_one_or_none()
    if found is None and create:
        found = Conversation(customer_id=customer_id, status="open", shopper_unread=0, staff_unread=0, last_text="")
        db.session.add(found)
        db.session.flush()
    return found


def get(conversation_id: int) -> Conversation | None:
    """A conversation of the active store (its schema holds no other store's)."""
    return db.session.get(Conversation, conversation_id)


def _add(conversation: Conversation, kind: str, sender_id: int | None, text: str, **extra) -> ChatMessage:
    now = extra.pop("now", None) or utcnow()
    message = ChatMessage(
        conversation_id=conversation.id, sender_kind=kind, sender_id=sender_id, text=text, created_at=now, **extra
    )
    db.session.add(message)
    conversation.last_message_at = now
    conversation.last_text = text[:80]
    if kind == "shopper":
        conversation.staff_unread += 1
    else:
        conversation.shopper_unread += 1
    _pending(conversation)
    return message


def _pending(conversation: Conversation) -> None:
    db.session.info.setdefault(_PENDING, set()).add(conversation.id)


def send_as_shopper(customer: Customer, raw_text, order_number=None, now: datetime | None = None) -> list[ChatMessage]:
    """The shopper's message (opening their conversation, or opening it again), then the
    automatic answers it calls for: a keyword's reply, and outside the service hours the away
    text (at most once in :data:`AWAY_EVERY`). Returns the messages added."""
    text = clean_text(raw_text)
    order = order_of_shopper(customer.id, order_number)
    now = now or utcnow()
    conversation = conversation_of(customer.id, create=True)
    if conversation.status == "closed":
        CONVERSATION_STATES.move(conversation, "assigned" if conversation.staff_id else "open")
    added = [_add(conversation, "shopper", customer.id, text, order_id=order.id if order else None, now=now)]
    if conversation.waiting_since is None:
        conversation.waiting_since = now
    value = chat_settings.current()
    reply = chat_settings.keyword_reply(value, text)
    if reply:
        added.append(_add(conversation, "auto", None, reply, auto="keyword", now=now))
    if not chat_settings.in_hours(value, now) and not _away_sent_since(conversation, now - AWAY_EVERY):
        added.append(_add(conversation, "auto", None, chat_settings.away_text(value), auto="hours", now=now))
    db.session.flush()
    return added


def _away_sent_since(conversation: Conversation, since: datetime) -> bool:
    return (
        db.session.execute(
            sa.select(ChatMessage.id)
            .where(
                ChatMessage.conversation_id == conversation.id,
                ChatMessage.auto == "hours",
                ChatMessage.created_at >= since,
            )
            .limit(1)
        ).scalar()
        is not None
    )


def send_as_staff(conversation: Conversation, staff: Staff, raw_text, *, quick: bool = False) -> ChatMessage:
    """A staff member's answer: an unassigned conversation becomes theirs; the shopper is no
    longer waiting."""
    text = clean_text(raw_text)
    if conversation.staff_id is None or conversation.status != "assigned":
        if conversation.staff_id is None:
            conversation.staff_id = staff.id
        CONVERSATION_STATES.move(conversation, "assigned")
    message = _add(conversation, "staff", staff.id, text, auto="quick" if quick else None)
    conversation.waiting_since = None
    conversation.staff_unread = 0  # answering reads what came before
    db.session.flush()
    return message


def answer_unanswered(now: datetime | None = None) -> int:
    """The no-answer automatic reply: every conversation whose shopper has waited longer than
    the store's ``no_answer_minutes`` gets it once (a staff answer or this reply ends the wait)."""
    value = chat_settings.current()
    minutes = value["no_answer_minutes"]
    if not minutes:
        return 0
    now = now or utcnow()
    waiting = db.session.execute(
        sa.select(Conversation).where(
            Conversation.waiting_since.is_not(None),
            Conversation.waiting_since <= now - timedelta(minutes=minutes),
            Conversation.status != "closed",
        )
    ).scalars()
    count = 0
    for conversation in waiting:
        _add(conversation, "auto", None, chat_settings.no_answer_text(value), auto="no_answer", now=now)
        conversation.waiting_since = None
        count += 1
    db.session.flush()
    return count


def mark_read(conversation: Conversation, side: str) -> None:
    if side == "shopper":
        conversation.shopper_unread = 0
    else:
        conversation.staff_unread = 0


def assign(conversation: Conversation, staff_id: int | None) -> None:
    """Give the conversation to an active staff member of this store (None: back to the queue)."""
    if staff_id is None:
        conversation.staff_id = None
        if conversation.status == "assigned":
            CONVERSATION_STATES.move(conversation, "open")
        return
    staff = db.session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise ValidationFailed({"staff_id": ("not_found", _("No such member of the team."))})
    conversation.staff_id = staff.id
    CONVERSATION_STATES.move(conversation, "assigned")


def close(conversation: Conversation) -> None:
    if conversation.status != "closed":
        CONVERSATION_STATES.move(conversation, "closed")
    conversation.waiting_since = None


def announce(session=None) -> None:
    """Wake the streams of the conversations written since the last call (after the commit)."""
    session = session or db.session
    pending = session.info.pop(_PENDING, None)
    store = current_store()
    if pending and store is not None:
        found = realtime.hub()
        for conversation_id in sorted(pending):
            found.publish(store.id, conversation_id)


def commit() -> None:
    """Commit, then wake the streams."""
    db.session.commit()
    announce()


# --- reading -----------------------------------------------------------------------------------


def messages(conversation_ids, after: int = 0, limit: int = 200) -> list[ChatMessage]:
    """Messages after id ``after``, oldest first: of one conversation, or of the whole store
    (``conversation_ids=None``: the console's stream)."""
    query = sa.select(ChatMessage).where(ChatMessage.id > after).order_by(ChatMessage.id).limit(limit)
    if conversation_ids is not None:
        query = query.where(ChatMessage.conversation_id.in_(list(conversation_ids)))
    return list(db.session.execute(query).scalars())


def history(conversation: Conversation, limit: int = 50) -> list[ChatMessage]:
    """The last ``limit`` messages, oldest first."""
    rows = db.session.execute(
        sa.select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation.id)
        .order_by(ChatMessage.id.desc())
        .limit(limit)
    ).scalars()
    return list(reversed(list(rows)))


def latest_id(conversation_ids=None) -> int:
    query = sa.select(sa.func.max(ChatMessage.id))
    if conversation_ids is not None:
        query = query.where(ChatMessage.conversation_id.in_(list(conversation_ids)))
    return db.session.execute(query).scalar() or 0


def conversations(staff: Staff, which: str = "all", page: int = 1) -> list[Conversation]:
    """The console's list: unread first, then the latest; ``mine`` (assigned to ``staff``),
    ``unassigned`` (waiting for someone to take it) or ``all``."""
    query = sa.select(Conversation).where(Conversation.last_message_at.is_not(None))
    if which == "mine":
        query = query.where(Conversation.staff_id == staff.id)
    elif which == "unassigned":
        query = query.where(Conversation.staff_id.is_(None), Conversation.status != "closed")
    query = query.order_by(
        sa.case((Conversation.staff_unread > 0, 0), else_=1),
        Conversation.last_message_at.desc(),
        Conversation.id.desc(),
    )
    return list(db.session.execute(query.limit(PAGE).offset((max(page, 1) - 1) * PAGE)).scalars())


def staff_unread_total() -> int:
    return int(db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(Conversation.staff_unread), 0))).scalar())


def shopper_unread(customer_id: int) -> int:
    """The shopper's unread answers (the badge of 我的's 客服 entry)."""
    return int(
        db.session.execute(
            sa.select(Conversation.shopper_unread).where(Conversation.customer_id == customer_id)
        ).scalar()
        or 0
    )


def team() -> list[dict]:
    """The store's active staff with their names (platform accounts), for assigning."""
    rows = db.session.execute(sa.select(Staff).where(Staff.active.is_(True)).order_by(Staff.id)).scalars().all()
    names = dict(
        db.session.execute(
            sa.select(Merchant.id, Merchant.name).where(Merchant.id.in_([s.merchant_id for s in rows]))
        ).all()
    )
    return [{"id": s.id, "name": names.get(s.merchant_id) or _("Staff %(id)s", id=s.id), "role": s.role} for s in rows]


def recent_orders(customer_id: int, limit: int = 5) -> list[Order]:
    return list(
        db.session.execute(
            sa.select(Order).where(Order.customer_id == customer_id).order_by(Order.id.desc()).limit(limit)
        ).scalars()
    )


def nicknames(customer_ids) -> dict[int, str]:
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Customer.id, Customer.nickname).where(Customer.id.in_(ids))).all())


# --- shapes ------------------------------------------------------------------------------------


def order_card(order: Order, side: str) -> dict:
    endpoint = "console.order_detail" if side == "staff" else "storefront.order_detail"
    return {
        "id": order.id,
        "number": order.number,
        "status": status_label(order.status),
        "total_fen": order.total,
        "total": fen_to_yuan(order.total),
        "url": url_for(endpoint, order_id=order.id),
    }


def message_views(rows: list[ChatMessage], side: str) -> list[dict]:
    """Messages as the pages and the API show them (the text as typed: templates and scripts
    escape it)."""
    order_ids = {m.order_id for m in rows if m.order_id}
    orders = (
        {o.id: o for o in db.session.execute(sa.select(Order).where(Order.id.in_(order_ids))).scalars()}
        if order_ids
        else {}
    )
    return [
        {
            "id": m.id,
            "conversation_id": m.conversation_id,
            "sender": m.sender_kind,
            "mine": m.sender_kind == side or (side == "staff" and m.sender_kind == "auto"),
            "text": m.text,
            "auto": m.auto,
            "created_at": _aware(m.created_at).isoformat(),
            "time": _local_time(m.created_at),
            "order": order_card(orders[m.order_id], side) if m.order_id in orders else None,
        }
        for m in rows
    ]


def _aware(at: datetime) -> datetime:
    """UTC with its offset (SQLite gives timestamps back without one)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _local_time(at: datetime) -> str:
    return _aware(at).astimezone(chat_settings.ZONE).strftime("%m-%d %H:%M")


def conversation_view(conversation: Conversation, names: dict[int, str] | None = None) -> dict:
    names = names if names is not None else nicknames([conversation.customer_id])
    return {
        "id": conversation.id,
        "customer_id": conversation.customer_id,
        "shopper": names.get(conversation.customer_id) or _("Shopper"),
        "status": conversation.status,
        "staff_id": conversation.staff_id,
        "staff_unread": conversation.staff_unread,
        "shopper_unread": conversation.shopper_unread,
        "last_text": conversation.last_text,
        "last_message_at": _aware(conversation.last_message_at).isoformat() if conversation.last_message_at else None,
        "time": _local_time(conversation.last_message_at) if conversation.last_message_at else "",
    }


def status_labels() -> dict[str, str]:
    return {"open": _("Waiting"), "assigned": _("Assigned"), "closed": _("Closed")}


def config_value(name: str, default):
    return current_app.config.get(name) or default
