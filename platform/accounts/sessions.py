"""Login sessions and API tokens: random secrets, stored as SHA-256, revocable.

A browser keeps the secret in its signed Flask session under a namespace per principal
(``mallow.admin``, ``mallow.merchant``, ``mallow.developer``, ``mallow.shopper.<store id>``); an API client sends
``Authorization: Bearer <prefix>_<secret>``. Both are looked up in the same tables.

Shopper tokens are also mirrored in Redis when the app has ``REDIS_URL``
(:mod:`mallow.accounts.mirror`): written after the commit that issued them, deleted at once
when revoked, so a front door can admit a request without the database.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, UTC

import sqlalchemy as sa
from flask import current_app, request, session

from mallow.accounts import mirror, session_memory
from mallow.accounts.models import AccountSession, Customer, CustomerSession, Developer, Merchant, PlatformAdmin
from mallow.db import db

TOKEN_PREFIX = {"admin": "adm", "merchant": "mer", "shopper": "shp", "developer": "dev"}
PREFIX_KIND = {prefix: kind for kind, prefix in TOKEN_PREFIX.items()}
ACCOUNT_MODELS = {"admin": PlatformAdmin, "merchant": Merchant, "developer": Developer}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _expiry(via: str) -> datetime:
    days = current_app.config["SESSION_LIFETIME_DAYS"] if via == "cookie" else 90
    return datetime.now(UTC) + timedelta(days=days)


def session_key(kind: str, store_id: int | None = None) -> str:
    return f"mallow.{kind}" + (f".{store_id}" if kind == "shopper" else "")


def _new_secret(kind: str) -> str:
    return f"{TOKEN_PREFIX[kind]}_{secrets.token_urlsafe(32)}"


def issue(principal, via: str, store_id: int | None = None) -> str:
    """Create a session row for ``principal`` and return its secret (shown once)."""
    secret = _new_secret(principal.kind)
    if principal.kind == "shopper":
        row = CustomerSession(secret_hash=_digest(secret), customer_id=principal.id, via=via, expires_at=_expiry(via))
        mirror.issued(row.secret_hash, principal.id, via, row.expires_at)
    else:
        row = AccountSession(
            secret_hash=_digest(secret),
            kind=principal.kind,
            account_id=principal.id,
            via=via,
            store_id=store_id,
            expires_at=_expiry(via),
            user_agent=(request.user_agent.string or "")[:200] if request else None,
        )
    db.session.add(row)
    return secret


def login_browser(principal, store_id: int | None = None) -> None:
    """Start a browser session in the principal's namespace, replacing any earlier one there."""
    key = session_key(principal.kind, store_id)
    old = session.pop(key, None)
    if old:
        revoke(principal.kind, old)
    session[key] = issue(principal, "cookie")
    session.permanent = True


def logout_browser(kind: str, store_id: int | None = None) -> None:
    secret = session.pop(session_key(kind, store_id), None)
    if secret:
        revoke(kind, secret)


def revoke(kind: str, secret: str) -> None:
    model = CustomerSession if kind == "shopper" else AccountSession
    if kind == "shopper":
        mirror.revoked(_digest(secret))
        session_memory.forget_after_commit()
    db.session.execute(db.delete(model).where(model.secret_hash == _digest(secret)))


def lookup(kind: str, secret: str | None, via: str):
    """The active principal behind ``secret``, as ``(principal, session_row)``, or None."""
    if not secret or not secret.startswith(TOKEN_PREFIX[kind] + "_"):
        return None
    digest = _digest(secret)
    kept = session_memory.remembered(digest) if kind == "shopper" else None
    if kept is not None:
        row, principal = kept
    else:
        found = db.session.execute(_lookup_statement(kind), {"digest": digest}).first()
        if found is None:
            return None
        row, principal = found
        if kind == "shopper":
            session_memory.remember(digest, row, principal)
    if row.via != via or _aware(row.expires_at) <= datetime.now(UTC) or not principal.is_active:
        return None
    if kind == "shopper":
        mirror.remember_found(row.secret_hash, principal, row)
    return principal, row


_LOOKUPS: dict[str, sa.Select] = {}


def _lookup_statement(kind: str) -> sa.Select:
    """The session row and its principal in one statement (every authenticated request asks),
    built once per kind: the digest is its one parameter."""
    statement = _LOOKUPS.get(kind)
    if statement is None:
        if kind == "shopper":
            statement = (
                sa.select(CustomerSession, Customer)
                .join(Customer, Customer.id == CustomerSession.customer_id)
                .where(CustomerSession.secret_hash == sa.bindparam("digest"))
            )
        else:
            model = ACCOUNT_MODELS[kind]
            statement = (
                sa.select(AccountSession, model)
                .join(model, model.id == AccountSession.account_id)
                .where(AccountSession.secret_hash == sa.bindparam("digest"), AccountSession.kind == kind)
            )
        _LOOKUPS[kind] = statement
    return statement


def revoke_all(kind: str, account_id: int) -> None:
    """End every session and token of an account (password change, suspension)."""
    if kind == "shopper":
        mirror.customer_revoked(account_id)
        session_memory.forget_after_commit()
        db.session.execute(db.delete(CustomerSession).where(CustomerSession.customer_id == account_id))
    else:
        db.session.execute(
            db.delete(AccountSession).where(AccountSession.kind == kind, AccountSession.account_id == account_id)
        )


mirror.install_listeners()  # deactivating a customer forgets their mirrored sessions


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
