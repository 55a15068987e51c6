"""The shopper's chat with the store (客服), on the ``storefront`` blueprint, signed-in only:

* ``GET /chat`` -- the page (bubbles, the input bar at the bottom); ``?order=<number>`` shows
  that order of theirs as a card they can send;
* ``POST /chat`` -- send (a form with its CSRF token; without script it answers 303 to the page,
  with ``Accept: application/json`` the messages added, as JSON);
* ``GET /chat/stream`` -- the server-sent events of their conversation (:mod:`mallow.chat.stream`);
* ``GET /chat/messages?after=<id>`` -- the same as JSON, for the page's polling fallback;
* ``POST /chat/read`` -- the answers were seen (the badge of 我的's entry goes).

A shopper reaches only their own conversation: it is found by their customer id, never by an id
in the request.
"""

from __future__ import annotations

from flask import abort, jsonify, redirect, render_template, request, url_for

from mallow.accounts.guards import principal, shopper_required
from mallow.chat import service, stream
from mallow.chat.limits import send_limits
from mallow.chat.models import MAX_TEXT
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web.blueprints import storefront as bp


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _page(customer, status: int = 200, errors: dict | None = None, text: str = ""):
    conversation = service.conversation_of(customer.id)
    rows = service.history(conversation) if conversation is not None else []
    if conversation is not None and conversation.shopper_unread:
        service.mark_read(conversation, "shopper")
        service.commit()
    order = None
    number = request.args.get("order", "")
    if number:
        try:
            found = service.order_of_shopper(customer.id, number)
        except ValidationFailed:
            found = None
        order = service.order_card(found, "shopper") if found is not None else None
    views = service.message_views(rows, "shopper")
    return (
        render_template(
            "storefront/chat.html",
            messages=views,
            after=views[-1]["id"] if views else 0,
            order=order,
            errors=errors or {},
            text=text,
            max_text=MAX_TEXT,
        ),
        status,
    )


@bp.get("/chat")
@shopper_required
def chat():
    return _page(principal("shopper"))


@bp.post("/chat")
@shopper_required
@send_limits
def chat_send():
    customer = principal("shopper")
    try:
        added = service.send_as_shopper(customer, request.form.get("text"), request.form.get("order"))
    except ValidationFailed as failed:
        if _wants_json():
            return jsonify(failed.as_json()), 422
        return _page(customer, 422, {f: m for f, (_c, m) in failed.errors.items()}, request.form.get("text") or "")
    service.commit()
    if _wants_json():
        return jsonify(messages=service.message_views(added, "shopper")), 201
    return redirect(url_for("storefront.chat"), 303)


def _read_after(conversation_id: int | None):
    def read(after: int) -> list[dict]:
        if conversation_id is None:
            return []
        return service.message_views(service.messages([conversation_id], after), "shopper")

    return read


@bp.get("/chat/stream")
@shopper_required
def chat_stream():
    customer = principal("shopper")
    conversation_id = service.conversation_of(customer.id, create=True).id  # a channel before the first message
    service.commit()
    return stream.sse(current_store().id, conversation_id, stream.last_event_id(), _read_after(conversation_id))


@bp.get("/chat/messages")
@shopper_required
def chat_messages():
    conversation = service.conversation_of(principal("shopper").id)
    response = jsonify(messages=_read_after(conversation.id if conversation else None)(stream.last_event_id()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/chat/read")
@shopper_required
def chat_read():
    conversation = service.conversation_of(principal("shopper").id)
    if conversation is None:
        abort(404)
    service.mark_read(conversation, "shopper")
    service.commit()
    return "", 204


def unread_badge() -> int:
    """The signed-in shopper's unread answers (for 我的's 客服 entry); 0 signed out."""
    customer = principal("shopper")
    return service.shopper_unread(customer.id) if customer is not None else 0
