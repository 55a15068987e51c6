"""One-time sign-in codes by SMS, and the pluggable SMS provider that sends them.

A code is six digits, valid for :data:`CODE_TTL` (5 minutes), good for one sign-in, and allows
:data:`MAX_ATTEMPTS` wrong tries; only the newest code of a phone counts. The table
``sms_codes`` keeps the phone as the same keyed digest as a login and the code only as an
HMAC-SHA256 keyed with the app's ``SECRET_KEY`` (:func:`code_hash`): a copy of the database
gives neither. Sending is limited per phone in each store (one code per
:data:`RESEND_SECONDS`, :data:`PER_HOUR` an hour, counted from the table, so every process
agrees) and per IP address (``SMS_SEND_RATE_LIMIT_IP``, Flask-Limiter: see
:func:`mallow.accounts.authenticate.sms_send_limits`); checking a code is a login attempt
(``login_limits``: per phone and per IP).

The provider (``MALLOW_SMS_PROVIDER``): ``"log"`` (the default) is :class:`LoggingSmsProvider`,
for development, the demo and tests: it sends nothing, writes the code to the server log and
remembers the last code per store and phone (:meth:`LoggingSmsProvider.last_code`), so tests
and the demo can read it. It is never shown to the shopper; the texts of notifications
(``send_message``) it keeps in :attr:`LoggingSmsProvider.outbox`. A real gateway is a class with
the methods ``send_code(phone, code, store)`` (sign-in codes) and ``send_message(phone, text,
store)`` (notifications: :mod:`mallow.notifications.channels`) of :class:`SmsProvider`, named as
``"package.module:ClassName"``; it is built once per app with the app as its only argument.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import secrets
import threading
from datetime import datetime, timedelta, UTC
from typing import Protocol

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from mallow.accounts.models import SmsCode
from mallow.db import db
from mallow.security import crypto
from mallow.tenants.context import current_store
from mallow.validation import CN_MOBILE_RE, ValidationFailed

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
RESEND_SECONDS = 60
PER_HOUR = 5
PURPOSES = ("login",)  # sign-in and sign-up are one: the first good code creates the account

log = logging.getLogger("mallow.sms")


class SmsProvider(Protocol):
    """What sends a code. ``send_code`` raises :class:`SmsUnavailable` (or anything) when the
    gateway refuses or does not answer: the code is then not kept and the shopper may ask again."""

    name: str

    def send_code(self, phone: str, code: str, store) -> None: ...

    def send_message(self, phone: str, text: str, store) -> None:
        """Send ``text`` (a notification, already in the shopper's language) to ``phone`` for
        ``store``; raises when the gateway refuses or does not answer (the notification is tried
        again later)."""
        ...


class SmsUnavailable(Exception):
    """The SMS gateway could not send the code."""


class SendLimited(Exception):
    """Too many codes for this phone: ``retry_after`` seconds until the next may be sent."""

    def __init__(self, retry_after: int, message: str):
        super().__init__(message)
        self.retry_after, self.message = max(int(retry_after), 1), message


class SmsOutbox:
    """The texts the development provider would have sent (it has no way to send one), in this
    process's memory, for tests and the demo."""

    def __init__(self):
        self.sent: list[tuple[int, str, str]] = []  # (store id, phone, text)
        self._lock = threading.Lock()

    def add(self, store_id: int, phone: str, text: str) -> None:
        with self._lock:
            self.sent.append((store_id, phone, text))

    def to(self, phone: str) -> list[str]:
        with self._lock:
            return [text for _store, number, text in self.sent if number == phone]


class LoggingSmsProvider:
    """Development and tests: logs the code (nothing is sent) and remembers the last code per
    store and phone, in this process's memory, for :meth:`last_code`; a notification's text is
    logged without its words (the phone masked) and kept in :attr:`outbox`."""

    name = "log"

    def __init__(self, app=None):
        self._last: dict[tuple[int, str], str] = {}
        self._lock = threading.Lock()
        self.outbox = SmsOutbox()

    def send_message(self, phone: str, text: str, store) -> None:
        self.outbox.add(store.id, phone, text)
        log.warning(
            "SMS to %s in store %s (development SMS provider: nothing was sent)", crypto.mask(phone), store.slug
        )

    def send_code(self, phone: str, code: str, store) -> None:
        with self._lock:
            self._last[(store.id, phone)] = code
        log.warning(
            "SMS sign-in code for %s in store %s: %s (development SMS provider: no message was sent)",
            crypto.mask(phone),
            store.slug,
            code,
        )

    def last_code(self, phone: str, store_id: int | None = None) -> str | None:
        """The last code sent to ``phone`` in store ``store_id`` (default: the active store)."""
        if store_id is None:
            store_id = current_store().id
        with self._lock:
            return self._last.get((store_id, normalise_phone(phone) or phone))


def provider(app=None) -> SmsProvider:
    """The app's SMS provider (built on first use from ``MALLOW_SMS_PROVIDER``)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("mallow.sms")
    if found is None:
        name = app.config.get("MALLOW_SMS_PROVIDER") or "log"
        if name == "log":
            found = LoggingSmsProvider(app)
        else:
            module, _sep, attribute = name.partition(":")
            found = getattr(importlib.import_module(module), attribute)(app)
        found = app.extensions.setdefault("mallow.sms", found)
    return found


def normalise_phone(raw) -> str | None:
    """``"+86 138-1234-5678"`` → ``"13812345678"``; None unless a mainland mobile number."""
    value = str(raw or "").strip().replace(" ", "").replace("-", "")
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    return value if CN_MOBILE_RE.match(value) else None


def require_phone(raw) -> str:
    phone = normalise_phone(raw)
    if phone is None:
        raise ValidationFailed({"phone": ("invalid", _("Enter an 11-digit mainland mobile number."))})
    return phone


def code_hash(phone: str, code: str, purpose: str = "login", store_id: int | None = None) -> str:
    """HMAC-SHA256 of the code (with the store, purpose and phone), keyed with ``SECRET_KEY``."""
    store_id = current_store().id if store_id is None else store_id
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"sms-code:{store_id}:{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_send_limits(digest: str, now: datetime) -> None:
    recent = [
        _aware(t)
        for t in db.session.execute(
            sa.select(SmsCode.created_at)
            .where(SmsCode.phone_digest == digest, SmsCode.created_at > now - timedelta(hours=1))
            .order_by(SmsCode.created_at.desc())
        ).scalars()
    ]
    if recent and (now - recent[0]).total_seconds() < RESEND_SECONDS:
        wait = RESEND_SECONDS - (now - recent[0]).total_seconds()
        raise SendLimited(
            wait,
            ngettext(
                "Wait %(num)s second before asking for another code.",
                "Wait %(num)s seconds before asking for another code.",
                int(wait) + 1,
            ),
        )
    if len(recent) >= PER_HOUR:
        wait = (recent[PER_HOUR - 1] + timedelta(hours=1) - now).total_seconds()
        raise SendLimited(wait, _("Too many codes were sent to this number. Try again in an hour."))


def send_code(raw_phone, purpose: str = "login") -> str:
    """Send a new code to the phone (limits first); returns the normalised phone. The caller
    commits. Raises ``ValidationFailed`` (not a mobile number), :class:`SendLimited`,
    :class:`SmsUnavailable` (nothing kept)."""
    phone = require_phone(raw_phone)
    now = _now()
    digest = crypto.digest(phone)
    _check_send_limits(digest, now)
    code = f"{secrets.randbelow(10**6):06d}"
    db.session.add(
        SmsCode(
            phone_digest=digest,
            purpose=purpose,
            code_hash=code_hash(phone, code, purpose),
            created_at=now,
            expires_at=now + CODE_TTL,
            attempts=0,
        )
    )
    db.session.flush()
    try:
        provider().send_code(phone, code, current_store())
    except Exception as error:
        db.session.rollback()
        log.warning("SMS provider failed for store %s: %r", current_store().slug, error)
        raise SmsUnavailable(str(error)) from None
    return phone


def _refused(code: str, message: str) -> ValidationFailed:
    return ValidationFailed({"code": (code, message)})


def verify_code(raw_phone, raw_code, purpose: str = "login") -> str:
    """Use the phone's newest code; returns the normalised phone. A wrong try counts (and is
    committed before the refusal is raised, so no rollback gives it back); the right one is
    marked used by a conditional UPDATE, so two requests cannot both use it. Raises
    ``ValidationFailed`` on ``phone`` or ``code`` (codes: ``required``, ``invalid``, ``expired``,
    ``used``, ``too_many_attempts``, ``wrong``)."""
    phone = require_phone(raw_phone)
    code = str(raw_code or "").strip()
    if not code:
        raise _refused("required", _("Enter the code from the SMS."))
    now = _now()
    row = db.session.execute(
        sa.select(SmsCode)
        .where(SmsCode.phone_digest == crypto.digest(phone), SmsCode.purpose == purpose)
        .order_by(SmsCode.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise _refused("invalid", _("Ask for a code first."))
    if row.used_at is not None:
        raise _refused("used", _("This code was used already. Ask for a new one."))
    if _aware(row.expires_at) <= now:
        raise _refused("expired", _("This code has expired. Ask for a new one."))
    counted = db.session.execute(
        sa.update(SmsCode)
        .where(SmsCode.id == row.id, SmsCode.attempts < MAX_ATTEMPTS, SmsCode.used_at.is_(None))
        .values(attempts=SmsCode.attempts + 1)
    ).rowcount
    if not counted:
        db.session.rollback()
        raise _refused("too_many_attempts", _("Too many wrong codes. Ask for a new one."))
    good = len(code) == 6 and code.isdigit() and hmac.compare_digest(row.code_hash, code_hash(phone, code, purpose))
    if not good:
        db.session.commit()  # the try counts
        db.session.refresh(row)
        left = MAX_ATTEMPTS - row.attempts
        if left <= 0:
            raise _refused("too_many_attempts", _("Too many wrong codes. Ask for a new one."))
        raise _refused("wrong", ngettext("Wrong code. %(num)s try left.", "Wrong code. %(num)s tries left.", left))
    used = db.session.execute(
        sa.update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if not used:
        db.session.rollback()
        raise _refused("used", _("This code was used already. Ask for a new one."))
    return phone
