"""The console's 客服 pages (routes on the ``console`` blueprint, staff of the store only):

* ``GET /chat`` and ``GET /chat/<id>`` -- the conversations (unread first; ``?which=mine``,
  ``unassigned`` or ``all``) and, with an id, that conversation beside the shopper's recent
  orders, the quick replies, take / assign / close;
* ``POST /chat/<id>/messages`` -- answer (a form; ``Accept: application/json`` for the page's
  script), ``POST /chat/<id>/take|assign|close|read``;
* ``GET /chat/stream`` -- server-sent events of every message of the store (the list and the open
  conversation update without reload), ``GET /chat/messages?after=`` its polling fallback;
* ``GET /chat/unread`` -- the unread count of the nav's badge (JSON);
* ``GET|POST /chat/settings`` -- service hours, automatic answers, keywords, quick replies.

A conversation is looked up by id in the store's own schema: another store's id is a 404.
"""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import current_staff, staff_required
from mallow.chat import service, settings as chat_settings, stream
from mallow.chat.limits import send_limits
from mallow.chat.models import MAX_TEXT
from mallow.db import db
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed
from mallow.web.blueprints import console as bp


def _which() -> str:
    which = request.args.get("which") or "all"
    if which not in service.FILTERS:
        abort(400)
    return which


def _found(conversation_id: int):
    conversation = service.get(conversation_id)
    if conversation is None:
        abort(404)
    return conversation


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _page(conversation=None, status: int = 200, errors: dict | None = None):
    staff = current_staff()
    which = _which()
    rows = service.conversations(staff, which)
    if conversation is not None and conversation not in rows:
        rows.insert(0, conversation)
    names = service.nicknames([c.customer_id for c in rows])
    views = [service.conversation_view(c, names) for c in rows]
    context = {}
    if conversation is not None:
        if conversation.staff_unread and conversation.staff_id in (None, staff.id):
            service.mark_read(conversation, "staff")
            service.commit()
            for view in views:
                if view["id"] == conversation.id:
                    view["staff_unread"] = 0
        history = service.message_views(service.history(conversation), "staff")
        context = {
            "messages": history,
            "orders": service.recent_orders(conversation.customer_id),
            "current": service.conversation_view(conversation, names),
        }
    team = service.team()
    return (
        render_template(
            "console/chat.html",
            conversations=views,
            which=which,
            conversation=conversation,
            staff=staff,
            team=team,
            team_names={member["id"]: member["name"] for member in team},
            quick_replies=chat_settings.current()["quick_replies"],
            status_labels=service.status_labels(),
            after=service.latest_id(),
            errors=errors or {},
            max_text=MAX_TEXT,
            **context,
        ),
        status,
    )


@bp.get("/chat")
@staff_required
def chat():
    return _page()


@bp.get("/chat/<int:conversation_id>")
@staff_required
def chat_conversation(conversation_id):
    return _page(_found(conversation_id))


@bp.post("/chat/<int:conversation_id>/messages")
@staff_required
@send_limits
def chat_answer(conversation_id):
    conversation = _found(conversation_id)
    try:
        message = service.send_as_staff(
            conversation, current_staff(), request.form.get("text"), quick=bool(request.form.get("quick"))
        )
    except ValidationFailed as failed:
        if _wants_json():
            return jsonify(failed.as_json()), 422
        return _page(conversation, 422, {f: m for f, (_c, m) in failed.errors.items()})
    service.commit()
    if _wants_json():
        return jsonify(messages=service.message_views([message], "staff")), 201
    return redirect(url_for("console.chat_conversation", conversation_id=conversation_id), 303)


@bp.post("/chat/<int:conversation_id>/<any(take, assign, close, read):action>")
@staff_required
def chat_action(conversation_id, action):
    conversation = _found(conversation_id)
    staff = current_staff()
    try:
        if action == "take":
            service.assign(conversation, staff.id)
        elif action == "assign":
            raw = (request.form.get("staff_id") or "").strip()
            service.assign(conversation, int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1)
        elif action == "close":
            service.close(conversation)
        else:
            service.mark_read(conversation, "staff")
    except ValidationFailed as failed:
        db.session.rollback()
        return _page(_found(conversation_id), 422, {f: m for f, (_c, m) in failed.errors.items()})
    service.commit()
    if action == "read":
        return "", 204
    flash({"take": _("The conversation is yours."), "assign": _("Assigned."), "close": _("Closed.")}[action], "ok")
    return redirect(url_for("console.chat_conversation", conversation_id=conversation_id), 303)


def _read_store(after: int) -> list[dict]:
    rows = service.messages(None, after)
    if not rows:
        return []
    views = service.message_views(rows, "staff")
    conversations = {c.id: c for c in (service.get(i) for i in {m["conversation_id"] for m in views}) if c}
    names = service.nicknames([c.customer_id for c in conversations.values()])
    total = service.staff_unread_total()  # the nav's badge
    for view in views:
        view["unread_total"] = total
        found = conversations.get(view["conversation_id"])
        view["conversation"] = service.conversation_view(found, names) if found else None
    return views


@bp.get("/chat/stream")
@staff_required
def chat_stream():
    return stream.sse(current_store().id, None, stream.last_event_id(service.latest_id()), _read_store)


@bp.get("/chat/messages")
@staff_required
def chat_poll():
    response = jsonify(messages=_read_store(stream.last_event_id(service.latest_id())))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/chat/unread")
@staff_required
def chat_unread():
    response = jsonify(unread=service.staff_unread_total())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/chat/settings", methods=["GET", "POST"])
@staff_required
def chat_settings_page():
    errors, value = {}, chat_settings.current()
    if request.method == "POST":
        value = chat_settings.parse_form(request.form)
        try:
            chat_settings.save(value)
        except ValidationFailed as failed:
            db.session.rollback()
            errors = {f: m for f, (_c, m) in failed.errors.items()}
        else:
            db.session.commit()
            flash(_("Saved."), "ok")
            return redirect(url_for("console.chat_settings_page"), 303)
    return render_template("console/chat_settings.html", value=value, errors=errors), 422 if errors else 200


@bp.app_context_processor
def chat_nav():
    """``console_chat_unread()`` for the console's nav: the store's unread messages (read only when
    a page calls it)."""

    def console_chat_unread() -> int:
        return service.staff_unread_total() if current_staff() is not None else 0

    return {"console_chat_unread": console_chat_unread}
