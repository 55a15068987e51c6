"""The chat (客服) in the API (:mod:`mallow.chat`).

The store API's chat operations answer a shopper's token *and* a staff member's: a shopper
sees only their own conversation (any other id is a 404), staff every conversation of their
store (another store's is not in this schema: 404). ``assignConversation`` is the console's.
Text only: what is sent is stored as typed and returned as JSON strings, never as HTML.
"""

from __future__ import annotations

from flask import abort, jsonify, make_response, request
from flask_babel import gettext as _

from mallow.accounts.guards import bearer_kind, current_staff, principal, staff_required
from mallow.api.catalog_shapes import bad_query
from mallow.api.order_shapes import ERR
from mallow.api.registry import NULLABLE_ID, obj, operation, returns, shape
from mallow.chat import service
from mallow.chat.limits import send_limits
from mallow.chat.models import MAX_TEXT
from mallow.db import db
from mallow.validation import ValidationFailed
from mallow.web.ids import ID_MAX

ORDER_CARD = shape(
    {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "status": {"type": "string"},
        "total_fen": {"type": "integer"},
        "total": {"type": "string"},
        "url": {"type": "string"},
    }
)
MESSAGE = shape(
    {
        "id": {"type": "integer"},
        "conversation_id": {"type": "integer"},
        "sender": {"type": "string", "enum": ["shopper", "staff", "auto"]},
        "mine": {"type": "boolean"},
        "text": {"type": "string"},
        "auto": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "time": {"type": "string"},
        "order": {"oneOf": [ORDER_CARD, {"type": "null"}]},
    }
)
CONVERSATION = shape(
    {
        "id": {"type": "integer"},
        "customer_id": {"type": "integer"},
        "shopper": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "assigned", "closed"]},
        "staff_id": {"type": ["integer", "null"]},
        "staff_unread": {"type": "integer"},
        "shopper_unread": {"type": "integer"},
        "last_text": {"type": "string"},
        "last_message_at": {"type": ["string", "null"]},
        "time": {"type": "string"},
    }
)
MESSAGES = shape({"messages": {"type": "array", "items": MESSAGE}})
EITHER = "A shopper's token (their own conversation) or a staff member's token (any conversation of the store)."
WHO = {
    "401": "No valid shopper or staff token of this store",
    "403": "A merchant who is not staff of this store",
    "404": "No such conversation (or not the shopper's own)",
}


def _caller() -> tuple[str, object]:
    """``("shopper", customer)`` or ``("staff", staff)``; 401 / 403 otherwise."""
    kind = bearer_kind()
    if kind == "shopper":
        customer = principal("shopper")
        if customer is not None:
            return "shopper", customer
    elif kind == "merchant":
        merchant = principal("merchant")
        if merchant is not None:
            staff = current_staff()
            if staff is None:
                abort(make_response(jsonify(error="forbidden", message=_("You have no access to this resource.")), 403))
            return "staff", staff
    response = jsonify(error="unauthenticated", message=_("Sign in or send a valid bearer token."))
    response.status_code = 401
    response.headers["WWW-Authenticate"] = "Bearer"
    abort(response)


def _conversation(conversation_id: int):
    side, who = _caller()
    conversation = service.get(conversation_id)
    if conversation is None or (side == "shopper" and conversation.customer_id != who.id):
        abort(make_response(jsonify(error="not_found", message=_("No such conversation.")), 404))
    return side, who, conversation


@operation(
    "store_api",
    "GET",
    "/chat/conversations",
    "listConversations",
    "The conversations of 客服. Staff: the store's, unread first then the latest (which: all, mine — "
    "assigned to me — or unassigned; 50 a page). A shopper: their own one conversation with the store "
    "(opened on first use). " + EITHER,
    tag="chat",
    auth="shopper_or_merchant",
    parameters=[
        {"name": "which", "in": "query", "schema": {"type": "string", "enum": list(service.FILTERS)}},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    ],
    responses={
        "200": returns("The conversations", shape({"conversations": {"type": "array", "items": CONVERSATION}})),
        "400": "A bad query parameter",
        **WHO,
    },
)
def list_conversations():
    side, who = _caller()
    which, page = request.args.get("which") or "all", request.args.get("page") or "1"
    if which not in service.FILTERS or not (page.isascii() and page.isdigit() and 1 <= int(page) <= 1000):
        return bad_query(ValidationFailed({"which": ("invalid", _("Choose all, mine or unassigned."))}))
    if side == "shopper":
        conversation = service.conversation_of(who.id, create=True)
        db.session.commit()
        return jsonify(conversations=[service.conversation_view(conversation)])
    rows = service.conversations(who, which, int(page))
    names = service.nicknames([c.customer_id for c in rows])
    return jsonify(conversations=[service.conversation_view(c, names) for c in rows])


@operation(
    "store_api",
    "POST",
    "/chat/conversations/<int:conversation_id>/messages",
    "sendChatMessage",
    f"Send a text message (1–{MAX_TEXT} characters, no HTML: it is shown as typed) into the conversation. "
    "A shopper may attach one of their orders by number (shown as a card) and gets the store's automatic "
    "answers (keywords, outside service hours); a staff member's answer takes an unassigned conversation. "
    "Rate-limited per sender. " + EITHER,
    tag="chat",
    auth="shopper_or_merchant",
    body=obj(
        {
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT * 2},
            "order": {"type": "string", "maxLength": 32, "description": "the shopper's order number"},
        },
        ["text"],
    ),
    responses={"201": returns("The messages added (the automatic answers after it)", MESSAGES), "422": ERR, **WHO},
)
@send_limits
def send_chat_message(conversation_id):
    side, who, conversation = _conversation(conversation_id)
    body = request.get_json()
    try:
        if side == "shopper":
            added = service.send_as_shopper(who, body.get("text"), body.get("order"))
        else:
            added = [service.send_as_staff(conversation, who, body.get("text"))]
    except ValidationFailed as failed:
        db.session.rollback()
        return jsonify(failed.as_json()), 422
    service.commit()
    return jsonify(messages=service.message_views(added, side)), 201


@operation(
    "store_api",
    "GET",
    "/chat/conversations/<int:conversation_id>/messages",
    "listChatMessages",
    "The conversation's messages, oldest first: the last 50, or with `after` those after that message id "
    "(at most 200: ask again with the last id). " + EITHER,
    tag="chat",
    auth="shopper_or_merchant",
    parameters=[
        {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX}},
    ],
    responses={"200": returns("The messages", MESSAGES), "400": "A bad query parameter", **WHO},
)
def list_chat_messages(conversation_id):
    side, _who, conversation = _conversation(conversation_id)
    raw = request.args.get("after")
    if raw is None:
        rows = service.history(conversation)
    elif raw.isascii() and raw.isdigit() and int(raw) <= ID_MAX:
        rows = service.messages([conversation.id], int(raw))
    else:
        return bad_query(ValidationFailed({"after": ("invalid", _("Give a message id."))}))
    response = jsonify(messages=service.message_views(rows, side))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@operation(
    "store_api",
    "POST",
    "/chat/conversations/<int:conversation_id>/read",
    "markConversationRead",
    "The caller's side has read the conversation: its unread count goes to 0. " + EITHER,
    tag="chat",
    auth="shopper_or_merchant",
    responses={"200": returns("The conversation", CONVERSATION), **WHO},
)
def mark_conversation_read(conversation_id):
    side, _who, conversation = _conversation(conversation_id)
    service.mark_read(conversation, side)
    db.session.commit()
    return jsonify(service.conversation_view(conversation))


@operation(
    "console_api",
    "PUT",
    "/chat/conversations/<int:conversation_id>/assignee",
    "assignConversation",
    "Give the conversation to an active staff member of the store (staff_id), or back to the unassigned queue (null).",
    tag="chat",
    auth="merchant",
    body=obj({"staff_id": NULLABLE_ID}, ["staff_id"]),
    responses={"200": returns("The conversation", CONVERSATION), "422": ERR},
)
@staff_required
def assign_conversation(conversation_id):
    conversation = service.get(conversation_id)
    if conversation is None:
        return jsonify(error="not_found", message=_("No such conversation.")), 404
    try:
        service.assign(conversation, request.get_json()["staff_id"])
    except ValidationFailed as failed:
        db.session.rollback()
        return jsonify(failed.as_json()), 422
    db.session.commit()
    return jsonify(service.conversation_view(conversation))
