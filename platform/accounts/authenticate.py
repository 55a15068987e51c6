"""Checking an admin's, a merchant's or a developer's e-mail and password (with login rate limits)."""

from __future__ import annotations

from flask import current_app, request

from mallow.accounts.customers import normalise_login
from mallow.accounts.models import Developer, Merchant, PlatformAdmin
from mallow.accounts.passwords import verify_password
from mallow.db import db
from mallow.extensions import limiter
from mallow.tenants.context import current_store
from mallow.validation import normalise_email

MODELS = {"admin": PlatformAdmin, "merchant": Merchant, "developer": Developer}


def authenticate(kind: str, email: str, password: str):
    model = MODELS[kind]
    account = db.session.execute(db.select(model).filter_by(email=normalise_email(email or ""))).scalar_one_or_none()
    if not verify_password(account.password_hash if account else None, password or ""):
        return None
    return account if account.active else None


def _identifier() -> str:
    """The account an attempt is for. A shopper account exists in one store only, so inside a
    store the key is the store and the login (its sign-in page and the API share one count; the
    same phone number in another store is another account); platform logins are per endpoint."""
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data if isinstance(data, dict) or hasattr(data, "get") else {}
    # a password sign-in names the account ``login`` (or ``email``), an SMS-code one ``phone``:
    # guesses at one number's password and at its code count against the same account
    ident = str(data.get("email") or data.get("login") or data.get("phone") or "").strip().lower()
    store = current_store()
    if store is None:
        return f"login:{request.endpoint}:{ident}"
    # the account the sign-in would find: "139 1234 5678" and "+8613912345678" are one account
    return f"login:store:{store.id}:{normalise_login(ident) or ident}"


def login_limits(view):
    """Per account (see :func:`_identifier`) and per IP limits on a login endpoint (only attempts
    count: POST)."""
    # one scope for every login endpoint: the key alone says which account (and, outside a
    # store, which endpoint) an attempt counts against
    view = limiter.shared_limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT"],
        scope="login-account",
        key_func=_identifier,
        methods=["POST"],
        error_message="too many attempts",
    )(view)
    return limiter.limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], methods=["POST"], error_message="too many attempts"
    )(view)


#: sending SMS codes from one IP address (a phone's own limits are in :mod:`mallow.accounts.sms`)
SMS_SEND_RATE_LIMIT_IP = "10 per minute;60 per hour"


def sms_send_limits(view):
    """The per-IP limit on asking for SMS codes (``SMS_SEND_RATE_LIMIT_IP``), one count for the
    storefront page and the API (only attempts count: POST)."""
    return limiter.shared_limit(
        lambda: current_app.config.get("SMS_SEND_RATE_LIMIT_IP") or SMS_SEND_RATE_LIMIT_IP,
        scope="sms-send-ip",
        methods=["POST"],
        error_message="too many codes",
    )(view)
