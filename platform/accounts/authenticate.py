"""Checking an admin's or a merchant's e-mail and password (with login rate limits)."""
from __future__ import annotations

from flask import current_app, request

from mallow.accounts.models import Merchant, PlatformAdmin
from mallow.accounts.passwords import verify_password
from mallow.db import db
from mallow.extensions import limiter
from mallow.validation import normalise_email

MODELS = {"admin": PlatformAdmin, "merchant": Merchant}


def authenticate(kind: str, email: str, password: str):
    model = MODELS[kind]
    account = db.session.execute(db.select(model).filter_by(email=normalise_email(email or ""))).scalar_one_or_none()
    if not verify_password(account.password_hash if account else None, password or ""):
        return None
    return account if account.active else None


def _identifier() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    data = data if isinstance(data, dict) or hasattr(data, "get") else {}
    ident = str(data.get("email") or data.get("login") or "").strip().lower()
    return f"{request.endpoint}:{ident}"


def login_limits(view):
    """Per account and per IP limits on a login endpoint (only attempts count: POST)."""
    view = limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=_identifier,
                         methods=["POST"], error_message="too many attempts")(view)
    return limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], methods=["POST"],
                         error_message="too many attempts")(view)
