"""Sending the deliveries: the ``notifications.deliver`` job and the periodic sweep.

One delivery is claimed by one conditional UPDATE (``… SET state = 'sending' WHERE id = ? AND
state IN ('pending', 'retrying') AND next_attempt_at <= now``) and committed before anything is
sent, so two workers racing on it cannot both send it, and a delivery already ``sent`` is never
sent again. A channel error moves it to ``retrying`` with a backoff (:data:`BACKOFF`) and queues
the job again for then; a permanent error (or the last attempt) moves it to ``dead`` with the
error. A worker killed while sending leaves the delivery ``sending``: after :data:`STALE_CLAIM`
the sweep claims it again (the one case where a message may go twice: the price of never losing
one).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask import current_app

from mallow.accounts.models import Customer, Merchant, Staff
from mallow.accounts.sms import normalise_phone
from mallow.db import db
from mallow.jobs import job, store_sweep
from mallow.notifications import channels
from mallow.notifications.models import Delivery, Notification, WeChatSubscription
from mallow.security import crypto

log = logging.getLogger("mallow.notifications")

#: seconds before the 2nd, 3rd, … attempt; after the last the delivery is dead
BACKOFF = (30, 120, 600, 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1
STALE_CLAIM = timedelta(minutes=15)
BATCH = 100


def _when(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else datetime.now(UTC)


def queue(store_id: int, delay: float | None = None) -> None:
    """Queue the deliver job of a store (never raises: the sweep catches a lost job)."""
    current_app.extensions["mallow.jobs"].enqueue("notifications.deliver", store_id=store_id, delay=delay)


def due_ids(now: datetime) -> list[int]:
    return list(
        db.session.execute(
            sa.select(Delivery.id)
            .where(
                sa.or_(
                    sa.and_(Delivery.state.in_(("pending", "retrying")), Delivery.next_attempt_at <= now),
                    sa.and_(Delivery.state == "sending", Delivery.claimed_at <= now - STALE_CLAIM),
                )
            )
            .order_by(Delivery.id)
            .limit(BATCH)
        ).scalars()
    )


def claim(delivery_id: int, now: datetime) -> bool:
    """Take ``delivery_id`` for sending (commits); False when another worker has it or it is done."""
    claimed = db.session.execute(
        sa.update(Delivery)
        .where(
            Delivery.id == delivery_id,
            sa.or_(
                sa.and_(Delivery.state.in_(("pending", "retrying")), Delivery.next_attempt_at <= now),
                sa.and_(Delivery.state == "sending", Delivery.claimed_at <= now - STALE_CLAIM),
            ),
        )
        .values(state="sending", claimed_at=now, attempts=Delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def _finish(delivery_id: int, **values) -> None:
    db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == "sending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def send_one(store, delivery: Delivery, notification: Notification) -> None:
    """Send ``delivery`` on its channel; raises :class:`~.channels.ChannelError`."""
    if delivery.channel == "email":
        address = _email_of(notification)
        if not address:
            raise channels.ChannelError("no e-mail address", permanent=True)
        channels.send_email(address, notification.title, f"{notification.body}\n\n— {store.name}", store)
    elif delivery.channel == "sms":
        phone = _phone_of(notification)
        if not phone:
            raise channels.ChannelError("no mobile number", permanent=True)
        channels.send_sms(phone, f"【{store.name}】{notification.body}", store)
    elif delivery.channel == "wechat":
        customer = (
            db.session.get(Customer, notification.recipient_id) if notification.recipient_kind == "customer" else None
        )
        subscription = (
            db.session.execute(
                sa.select(WeChatSubscription).where(
                    WeChatSubscription.customer_id == notification.recipient_id,
                    WeChatSubscription.event == notification.event,
                )
            ).scalar_one_or_none()
            if customer is not None
            else None
        )
        if customer is None or not customer.wechat_openid or subscription is None:
            raise channels.ChannelError("no WeChat subscription", permanent=True)
        channels.subscribe_client(store).send(
            customer.wechat_openid,
            subscription.template_id,
            channels.wechat_data(notification),
            lang="en_US" if notification.language == "en" else "zh_CN",
        )
    else:
        raise channels.ChannelError(f"unknown channel {delivery.channel}", permanent=True)


def _email_of(notification: Notification) -> str | None:
    if notification.recipient_kind == "staff":
        staff = db.session.get(Staff, notification.recipient_id)
        merchant = db.session.get(Merchant, staff.merchant_id) if staff is not None and staff.active else None
        return merchant.email if merchant is not None and merchant.active else None
    customer = db.session.get(Customer, notification.recipient_id)
    login = crypto.decrypt(customer.login_cipher) if customer is not None and customer.active else ""
    return login if "@" in login else None


def _phone_of(notification: Notification) -> str | None:
    if notification.recipient_kind != "customer":
        return None
    customer = db.session.get(Customer, notification.recipient_id)
    if customer is None or not customer.active:
        return None
    return normalise_phone(crypto.decrypt(customer.login_cipher))


def deliver_due(store, now: datetime, ids: list[int] | None = None) -> dict[str, int]:
    """Send every due delivery of the active store (or only ``ids``); returns counts by outcome."""
    counts = {"sent": 0, "retrying": 0, "dead": 0, "skipped": 0}
    wanted = due_ids(now)
    if ids is not None:
        wanted = [i for i in wanted if i in {int(x) for x in ids}]
    next_retry = None
    for delivery_id in wanted:
        if not claim(delivery_id, now):
            counts["skipped"] += 1
            continue
        delivery = db.session.get(Delivery, delivery_id)
        notification = db.session.get(Notification, delivery.notification_id)
        try:
            send_one(store, delivery, notification)
        except channels.ChannelError as error:
            attempts = delivery.attempts
            if error.permanent or attempts >= MAX_ATTEMPTS:
                _finish(delivery_id, state="dead", last_error=str(error)[:300])
                counts["dead"] += 1
                log.warning("notification delivery %s (%s) failed for good: %s", delivery_id, delivery.channel, error)
            else:
                wait = BACKOFF[attempts - 1]
                _finish(
                    delivery_id,
                    state="retrying",
                    last_error=str(error)[:300],
                    next_attempt_at=now + timedelta(seconds=wait),
                )
                counts["retrying"] += 1
                next_retry = wait if next_retry is None else min(next_retry, wait)
            continue
        except Exception as error:  # noqa: BLE001 -- a bug in a channel must not leave it claimed forever
            log.exception("notification delivery %s (%s) raised", delivery_id, delivery.channel)
            db.session.rollback()
            wait = BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
            _finish(
                delivery_id,
                state="retrying" if delivery.attempts < MAX_ATTEMPTS else "dead",
                last_error=f"{type(error).__name__}"[:300],
                next_attempt_at=now + timedelta(seconds=wait),
            )
            counts["retrying"] += 1
            continue
        _finish(delivery_id, state="sent", sent_at=now, last_error=None)
        counts["sent"] += 1
    if next_retry is not None:
        queue(store.id, delay=next_retry)
    return counts


@job("notifications.deliver", store=True, idempotent=True)
def deliver_job(store, delivery_ids: list[int] | None = None, now: str | None = None):
    return deliver_due(store, _when(now), delivery_ids)


@store_sweep("notifications", every_seconds=120)
def sweep(store, now):
    """Every store, every two minutes: deliveries whose job was lost (Redis down, a restart) or whose
    retry is due, and qualification decisions whose notification job was lost."""
    from mallow.notifications import watch

    watch.notify_recent_decisions(store)
    return deliver_due(store, now)
