"""Notifications in the API: the shopper's 消息 (store API) and the staff member's 站内信 (console
API), each with the recipient's preferences; the page's record of a WeChat subscribe-message
acceptance (:mod:`mallow.notifications`)."""

from __future__ import annotations

from datetime import UTC

from flask import abort, jsonify, request
from flask_babel import gettext as _

from mallow.accounts.guards import current_staff, principal, shopper_required, staff_required
from mallow.api.catalog_shapes import bad_query
from mallow.api.registry import obj, operation, returns, schema, shape, string
from mallow.db import db
from mallow.notifications import events as catalogue, service
from mallow.validation import ValidationFailed
from mallow.web.ids import ID_MAX

NOTIFICATION = schema(
    "Notification",
    shape(
        {
            "id": {"type": "integer"},
            "event": {"type": "string", "enum": list(catalogue.EVENTS)},
            "title": {"type": "string"},
            "body": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "read": {"type": "boolean"},
        }
    ),
)
NOTIFICATIONS = schema(
    "NotificationList",
    shape(
        {
            "items": {"type": "array", "items": NOTIFICATION},
            "unread": {"type": "integer", "description": "unread notifications in all"},
        }
    ),
)
PREFERENCES = schema(
    "NotificationPreferences",
    shape(
        {
            "language": {"type": "string", "enum": list(catalogue.LANGUAGES)},
            "events": {
                "type": "array",
                "items": shape(
                    {
                        "event": {"type": "string", "enum": list(catalogue.EVENTS)},
                        "channels": {"type": "array", "items": {"type": "string", "enum": list(catalogue.CHANNELS)}},
                        "allowed": {"type": "array", "items": {"type": "string", "enum": list(catalogue.CHANNELS)}},
                        "defaults": {"type": "array", "items": {"type": "string", "enum": list(catalogue.CHANNELS)}},
                    }
                ),
            },
        }
    ),
)
PREFERENCES_BODY = obj(
    {
        "language": {"type": "string", "enum": list(catalogue.LANGUAGES)},
        "events": {
            "type": "object",
            "description": "event → the channels wanted (in_app is always on)",
            "additionalProperties": {
                "type": "array",
                "items": {"type": "string", "enum": list(catalogue.CHANNELS)},
                "maxItems": 4,
            },
            "maxProperties": 20,
        },
    }
)
LIST_PARAMETERS = [
    {"name": "unread", "in": "query", "schema": {"type": "boolean"}, "description": "only unread ones"},
    {
        "name": "before",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
        "description": "notifications older than this id (the next page)",
    },
]
ID_PARAMETER = [
    {
        "name": "notification_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
    }
]
MARKED = schema(
    "NotificationMarked", shape({"id": {"type": "integer"}, "read": {"type": "boolean"}, "unread": {"type": "integer"}})
)


def as_json(row) -> dict:
    created = row.created_at
    if created is not None and created.tzinfo is None:  # SQLite keeps UTC without the zone
        created = created.replace(tzinfo=UTC)
    return {
        "id": row.id,
        "event": row.event,
        "title": row.title,
        "body": row.body,
        "created_at": created.isoformat() if created is not None else None,
        "read": row.read_at is not None,
    }


def _list(kind: str, recipient_id: int):
    unread = request.args.get("unread", "")
    before = request.args.get("before", "")
    problems = {}
    if unread not in ("", "true", "false", "1", "0"):
        problems["unread"] = ("invalid", _("Say true or false."))
    if before and not (before.isascii() and before.isdigit() and 0 < int(before) <= ID_MAX):
        problems["before"] = ("invalid", _("Give a notification's id."))
    if problems:
        return bad_query(ValidationFailed(problems))
    rows = service.inbox(
        kind, recipient_id, unread_only=unread in ("true", "1"), before=int(before) if before else None
    )
    return jsonify(items=[as_json(row) for row in rows], unread=service.unread_count(kind, recipient_id))


def _mark(kind: str, recipient_id: int, notification_id: int):
    row = service.get_own(kind, recipient_id, notification_id)
    if row is None:
        abort(404)
    service.mark_read(kind, recipient_id, notification_id)
    db.session.commit()
    return jsonify(id=notification_id, read=True, unread=service.unread_count(kind, recipient_id))


def _set(kind: str, recipient_id: int):
    saved = service.set_preferences(kind, recipient_id, request.get_json())
    db.session.commit()
    return jsonify(saved)


# --- the shopper -------------------------------------------------------------------------------


@operation(
    "store_api",
    "GET",
    "/me/notifications",
    "listNotifications",
    "The signed-in shopper's messages (消息), newest first, 50 at a time, with the unread count",
    tag="notifications",
    auth="shopper",
    parameters=LIST_PARAMETERS,
    responses={"200": returns("The messages", NOTIFICATIONS)},
)
@shopper_required
def list_notifications():
    return _list("customer", principal("shopper").id)


@operation(
    "store_api",
    "POST",
    "/me/notifications/<int:notification_id>/read",
    "markNotificationRead",
    "Mark one of the shopper's messages read",
    tag="notifications",
    auth="shopper",
    parameters=ID_PARAMETER,
    responses={"200": returns("Read; the unread count after it", MARKED)},
)
@shopper_required
def mark_notification_read(notification_id):
    return _mark("customer", principal("shopper").id, notification_id)


@operation(
    "store_api",
    "GET",
    "/me/notification-preferences",
    "getNotificationPreferences",
    "Which channels (in-app, SMS, e-mail, WeChat) the shopper chose per notification, and their language",
    tag="notifications",
    auth="shopper",
    responses={"200": returns("The preferences", PREFERENCES)},
)
@shopper_required
def get_notification_preferences():
    return jsonify(service.preferences("customer", principal("shopper").id))


@operation(
    "store_api",
    "PUT",
    "/me/notification-preferences",
    "setNotificationPreferences",
    "Choose the channels per notification (in-app is always on) and the language of the messages",
    tag="notifications",
    auth="shopper",
    body=PREFERENCES_BODY,
    responses={"200": returns("The preferences saved", PREFERENCES)},
)
@shopper_required
def set_notification_preferences():
    return _set("customer", principal("shopper").id)


@operation(
    "store_api",
    "POST",
    "/me/wechat-subscriptions",
    "recordWeChatSubscription",
    "The shopper accepted these subscribe-message templates in wx.requestSubscribeMessage: each "
    "acceptance allows one WeChat message for its notification",
    tag="notifications",
    auth="shopper",
    body=obj(
        {
            "accepted": {
                "type": "array",
                "maxItems": 10,
                "items": obj(
                    {"event": {"type": "string", "enum": list(catalogue.EVENTS)}, "template_id": string(64)},
                    ["event", "template_id"],
                ),
            }
        },
        ["accepted"],
    ),
    responses={
        "200": returns("Recorded", schema("WeChatSubscriptionsRecorded", shape({"recorded": {"type": "integer"}})))
    },
)
@shopper_required
def record_wechat_subscription():
    recorded = service.record_wechat_acceptance(principal("shopper").id, request.get_json()["accepted"])
    db.session.commit()
    return jsonify(recorded=recorded)


# --- the store's staff ---------------------------------------------------------------------------


@operation(
    "console_api",
    "GET",
    "/notifications",
    "listStaffNotifications",
    "The signed-in staff member's 站内信, newest first, 50 at a time, with the unread count",
    tag="notifications",
    auth="merchant",
    parameters=LIST_PARAMETERS,
    responses={"200": returns("The messages", NOTIFICATIONS)},
)
@staff_required
def list_staff_notifications():
    return _list("staff", current_staff().id)


@operation(
    "console_api",
    "POST",
    "/notifications/<int:notification_id>/read",
    "markStaffNotificationRead",
    "Mark one of the staff member's messages read",
    tag="notifications",
    auth="merchant",
    parameters=ID_PARAMETER,
    responses={"200": returns("Read; the unread count after it", MARKED)},
)
@staff_required
def mark_staff_notification_read(notification_id):
    return _mark("staff", current_staff().id, notification_id)


@operation(
    "console_api",
    "GET",
    "/notification-preferences",
    "getStaffNotificationPreferences",
    "Which channels (in-app, e-mail) the staff member chose per notification, and their language",
    tag="notifications",
    auth="merchant",
    responses={"200": returns("The preferences", PREFERENCES)},
)
@staff_required
def get_staff_notification_preferences():
    return jsonify(service.preferences("staff", current_staff().id))


@operation(
    "console_api",
    "PUT",
    "/notification-preferences",
    "setStaffNotificationPreferences",
    "Choose the channels per notification (in-app is always on) and the language of the messages",
    tag="notifications",
    auth="merchant",
    body=PREFERENCES_BODY,
    responses={"200": returns("The preferences saved", PREFERENCES)},
)
@staff_required
def set_staff_notification_preferences():
    return _set("staff", current_staff().id)
