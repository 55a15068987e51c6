"""Writing notifications (the outbox) and reading the inbox.

:func:`notify` writes, in the caller's transaction, one :class:`~.models.Notification` per
recipient and one :class:`~.models.Delivery` per channel the recipient chose and can be reached
on; nothing is sent here. After the transaction commits, :mod:`mallow.notifications.watch` queues
the ``notifications.deliver`` job (:mod:`mallow.notifications.delivery`); a rolled-back
transaction leaves nothing behind and queues nothing.

An event key (``order_paid:12``) names what happened; with the recipient and the channel it is
unique, so the same event notified twice (a replayed payment notification, a job run again) adds
nothing.
"""

from __future__ import annotations

from datetime import datetime, UTC

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from mallow.accounts.models import Customer, Staff
from mallow.accounts.sms import normalise_phone
from mallow.db import db
from mallow.notifications import events as catalogue
from mallow.notifications.models import Delivery, Notification, Preference, WeChatSubscription
from mallow.security import crypto
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed

#: ``session.info`` key: the stores whose new deliveries wait for the commit to be queued
QUEUED = "mallow.notifications.queued"


def _now() -> datetime:
    return datetime.now(UTC)


def default_language() -> str:
    return current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh_CN"


def staff_ids() -> list[int]:
    """Every active staff member of the active store (owner first)."""
    return list(
        db.session.execute(
            sa.select(Staff.id).where(Staff.active.is_(True)).order_by(Staff.role != "owner", Staff.id)
        ).scalars()
    )


def preferences_of(kind: str, ids: list[int]) -> dict[int, Preference]:
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Preference).where(Preference.recipient_kind == kind, Preference.recipient_id.in_(ids))
    ).scalars()
    return {row.recipient_id: row for row in rows}


def chosen_channels(event: catalogue.Event, preference: Preference | None) -> list[str]:
    """The channels ``preference`` chose for ``event`` (its defaults when it chose nothing);
    ``in_app`` always, channels the event does not allow never."""
    stored = (preference.channels or {}).get(event.name) if preference is not None else None
    chosen = set(stored) if isinstance(stored, list) else set(event.defaults)
    chosen.add("in_app")
    return [channel for channel in catalogue.CHANNELS if channel in chosen and channel in event.allowed]


def smtp_configured() -> bool:
    return bool(current_app.config.get("MALLOW_SMTP_HOST"))


def _reachable(kind: str, recipient_id: int, event: str, wanted: list[str]) -> list[str]:
    """Of the external channels in ``wanted``, those the recipient can be reached on. A WeChat
    message uses up one acceptance of the template (a conditional update: never below zero)."""
    found = []
    if kind == "staff":
        if "email" in wanted and smtp_configured():
            found.append("email")
        return found
    customer = db.session.get(Customer, recipient_id)
    if customer is None or not customer.active:
        return found
    login = crypto.decrypt(customer.login_cipher) if customer.login_cipher else ""
    if "email" in wanted and "@" in login and smtp_configured():
        found.append("email")
    if "sms" in wanted and normalise_phone(login):
        found.append("sms")
    if "wechat" in wanted and customer.wechat_openid:
        taken = db.session.execute(
            sa.update(WeChatSubscription)
            .where(
                WeChatSubscription.customer_id == customer.id,
                WeChatSubscription.event == event,
                WeChatSubscription.remaining > 0,
            )
            .values(remaining=WeChatSubscription.remaining - 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            found.append("wechat")
    return found


def notify(event: str, kind: str, recipient_ids: list[int], key: str, params: dict | None = None) -> list[Notification]:
    """Write the notifications of ``event`` (keyed ``key``) for ``recipient_ids`` of ``kind``
    (``staff`` / ``customer``) into the current transaction; the deliveries are queued after it
    commits. Recipients already notified of ``key`` are skipped. Returns the new notifications."""
    spec = catalogue.EVENTS[event]
    if kind != spec.audience:
        raise ValueError(f"{event} is for {spec.audience}, not {kind}")
    store = current_store()
    if store is None:
        raise RuntimeError("notify() needs an active store")
    ids = sorted({int(i) for i in recipient_ids if i})
    if not ids:
        return []
    key = str(key)[:100]
    known = set(
        db.session.execute(
            sa.select(Notification.recipient_id).where(
                Notification.event_key == key, Notification.recipient_kind == kind, Notification.recipient_id.in_(ids)
            )
        ).scalars()
    )
    preferences = preferences_of(kind, ids)
    params = {name: value for name, value in (params or {}).items() if value is not None}
    made = []
    for recipient_id in ids:
        if recipient_id in known:
            continue
        preference = preferences.get(recipient_id)
        language = preference.language if preference is not None else default_language()
        title, body = catalogue.render(event, language, params)
        notification = Notification(
            event=event,
            event_key=key,
            recipient_kind=kind,
            recipient_id=recipient_id,
            language=language,
            title=title,
            body=body,
            params=params,
            created_at=_now(),
        )
        db.session.add(notification)
        made.append(notification)
        wanted = [channel for channel in chosen_channels(spec, preference) if channel != "in_app"]
        for channel in _reachable(kind, recipient_id, event, wanted) if wanted else []:
            delivery = Delivery(
                channel=channel,
                unique_key=f"{key}|{kind}:{recipient_id}|{channel}",
                state="pending",
                attempts=0,
                next_attempt_at=_now(),
                created_at=_now(),
            )
            delivery.notification = notification
            db.session.add(delivery)
            db.session.info.setdefault(QUEUED, set()).add(store.id)
    return made


def notify_staff(event: str, key: str, params: dict | None = None) -> list[Notification]:
    """``event`` for every active staff member of the active store."""
    return notify(event, "staff", staff_ids(), key, params)


# --- the inbox ---------------------------------------------------------------------------------


def inbox(kind: str, recipient_id: int, *, unread_only: bool = False, limit: int = 50, before: int | None = None):
    query = (
        sa.select(Notification)
        .where(Notification.recipient_kind == kind, Notification.recipient_id == recipient_id)
        .order_by(Notification.id.desc())
        .limit(max(1, min(int(limit), 100)))
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before:
        query = query.where(Notification.id < int(before))
    return list(db.session.execute(query).scalars())


def unread_count(kind: str, recipient_id: int) -> int:
    return int(
        db.session.execute(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.recipient_kind == kind,
                Notification.recipient_id == recipient_id,
                Notification.read_at.is_(None),
            )
        ).scalar()
        or 0
    )


def mark_read(kind: str, recipient_id: int, notification_id: int | None = None) -> int:
    """Mark one of the recipient's notifications (or all, with None) read; the caller commits.
    Another recipient's notification is not found: 0."""
    query = sa.update(Notification).where(
        Notification.recipient_kind == kind,
        Notification.recipient_id == recipient_id,
        Notification.read_at.is_(None),
    )
    if notification_id is not None:
        query = query.where(Notification.id == int(notification_id))
    return db.session.execute(query.values(read_at=_now()).execution_options(synchronize_session=False)).rowcount


def get_own(kind: str, recipient_id: int, notification_id: int) -> Notification | None:
    found = db.session.get(Notification, notification_id)
    if found is None or found.recipient_kind != kind or found.recipient_id != recipient_id:
        return None
    return found


# --- what other capabilities call ---------------------------------------------------------------

#: the events a plugin may send through ``mallow.sdk.notify`` (shopper events it is the source of)
PLUGIN_EVENTS = ("group_succeeded", "group_failed")


def notify_customer(event: str, customer_id: int, key: str, params: dict | None = None) -> bool:
    """``event`` for one shopper of the active store, in the current transaction; False when they
    were already notified of ``key``."""
    return bool(notify(event, "customer", [customer_id], key, params))


def notify_coupon_expiring(customer_id: int, *, customer_coupon_id: int, name: str, expires_at: datetime | str) -> bool:
    """A shopper's coupon expires soon (in-app by default; more channels only if they chose them).
    Call it from the coupons' expiry job, in its transaction, once per held coupon (the key is the
    held coupon: calling it again adds nothing)."""
    when = expires_at.strftime("%Y-%m-%d") if isinstance(expires_at, datetime) else str(expires_at)[:10]
    return notify_customer(
        "coupon_expiring", customer_id, f"coupon_expiring:{customer_coupon_id}", {"name": name[:40], "expires": when}
    )


def on_coupon_expiring(_sender=None, **details) -> bool:
    """:func:`notify_coupon_expiring` as a blinker receiver (``coupons.events.coupon_expiring``,
    connected by ``create_app``: the coupons sit beside this package and cannot import it)."""
    return notify_coupon_expiring(
        int(details["customer_id"]),
        customer_coupon_id=int(details["customer_coupon_id"]),
        name=str(details.get("name") or ""),
        expires_at=details["expires_at"],
    )


# --- preferences --------------------------------------------------------------------------------


def preferences(kind: str, recipient_id: int) -> dict:
    """The recipient's language and, per event of their audience, the channels chosen, allowed and
    on by default (what the preferences page and ``getNotificationPreferences`` show)."""
    row = preferences_of(kind, [recipient_id]).get(recipient_id)
    return {
        "language": row.language if row is not None else default_language(),
        "events": [
            {
                "event": event.name,
                "channels": chosen_channels(event, row),
                "allowed": list(event.allowed),
                "defaults": list(event.defaults),
            }
            for event in catalogue.of_audience(kind)
        ],
    }


def save_preferences_form(kind: str, recipient_id: int, form) -> None:
    """Save what a settings page posted: a ``channels.<event>`` checkbox list per event and
    ``language`` (the console's and the storefront's pages alike); ``ValidationFailed``."""
    chosen = {
        item["event"]: form.getlist(f"channels.{item['event']}") for item in preferences(kind, recipient_id)["events"]
    }
    set_preferences(kind, recipient_id, {"language": form.get("language") or None, "events": chosen})


def set_preferences(kind: str, recipient_id: int, data: dict) -> dict:
    """Save ``{"language"?, "events"?: {event: [channel, …]}}`` (events not given keep their
    choice); the caller commits. Raises ``ValidationFailed`` naming the bad field."""
    problems: dict = {}
    language = data.get("language")
    if language is not None and language not in catalogue.LANGUAGES:
        problems["language"] = ("invalid", _("Choose Chinese or English."))
    events = data.get("events") or {}
    if not isinstance(events, dict):
        problems["events"] = ("invalid", _("Choose channels per event."))
        events = {}
    audience = {event.name: event for event in catalogue.of_audience(kind)}
    cleaned: dict[str, list[str]] = {}
    for name, channels in events.items():
        event = audience.get(name)
        if event is None:
            problems[f"events.{name}"[:60]] = ("unknown", _("No such notification."))
            continue
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            problems[f"events.{name}"] = ("invalid", _("Choose channels from the list."))
            continue
        if any(channel not in event.allowed for channel in channels):
            problems[f"events.{name}"] = ("not_allowed", _("This channel is not offered for this notification."))
            continue
        cleaned[name] = sorted({"in_app", *channels}, key=catalogue.CHANNELS.index)
    if problems:
        raise ValidationFailed(problems)
    row = preferences_of(kind, [recipient_id]).get(recipient_id)
    if row is None:
        row = Preference(recipient_kind=kind, recipient_id=recipient_id, language=default_language(), channels={})
        db.session.add(row)
    if language is not None:
        row.language = language
    row.channels = {**(row.channels or {}), **cleaned}
    row.updated_at = _now()
    db.session.flush()
    return preferences(kind, recipient_id)


def record_wechat_acceptance(customer_id: int, accepted: list[dict]) -> int:
    """The shopper accepted these templates in ``wx.requestSubscribeMessage`` (``[{"event",
    "template_id"}]``): each allows one more message for its event. The caller commits."""
    events = {event.name for event in catalogue.of_audience("customer") if "wechat" in event.allowed}
    count = 0
    for index, item in enumerate(accepted):
        event, template_id = item.get("event"), str(item.get("template_id") or "").strip()
        if event not in events:
            raise ValidationFailed({f"accepted.{index}.event": ("invalid", _("No such notification."))})
        if not template_id or len(template_id) > 64 or not template_id.isascii():
            raise ValidationFailed({f"accepted.{index}.template_id": ("invalid", _("Not a template id."))})
        row = db.session.execute(
            sa.select(WeChatSubscription).where(
                WeChatSubscription.customer_id == customer_id, WeChatSubscription.event == event
            )
        ).scalar_one_or_none()
        if row is None:
            row = WeChatSubscription(customer_id=customer_id, event=event, template_id=template_id, remaining=0)
            db.session.add(row)
        elif row.template_id != template_id:
            row.template_id, row.remaining = template_id, 0
        row.remaining = min((row.remaining or 0) + 1, 50)
        row.accepted_at = _now()
        count += 1
    db.session.flush()
    return count
