"""Carrying a referral code from the link to the binding: kept in the shopper's session (per
store) until the shopper is known, then recorded by :func:`capture`."""

from __future__ import annotations

import logging
import time

from flask import has_request_context, session

from mallow.sdk import current_store
from mallow_distribution import binding

log = logging.getLogger("mallow.plugins.distribution")
#: a referral code waits this long in the session for the shopper to sign up or order
REF_MAX_AGE = 30 * 86400
#: answers after which the code in the session is spent (bound, or can never bind this shopper)
FINAL = {"bound", "self", "cycle", "already_bound", "no_distributor", "not_approved"}


def _key() -> str:
    return f"mallow.distribution.ref.{current_store().id}"


def remember(code: str) -> None:
    session[_key()] = {"code": code, "at": int(time.time())}


def remembered() -> str | None:
    if not has_request_context() or current_store() is None:
        return None
    found = session.get(_key())
    if not isinstance(found, dict) or not isinstance(found.get("code"), str):
        return None
    if time.time() - int(found.get("at") or 0) > REF_MAX_AGE:
        session.pop(_key(), None)
        return None
    return found["code"]


def forget() -> None:
    if has_request_context() and current_store() is not None:
        session.pop(_key(), None)


def capture(customer_id: int, code: str | None, source: str) -> tuple[bool, str]:
    """Bind ``customer_id`` through ``code`` when they are not actively bound yet."""
    if not code:
        return False, "no_code"
    if binding.is_active(binding.binding_of(customer_id)):
        return False, "already_bound"
    return binding.bind(customer_id, binding.find_code(code), source)


def capture_from_session(customer_id: int, source: str) -> tuple[bool, str]:
    code = remembered()
    if code is None:
        return False, "no_code"
    bound, reason = capture(customer_id, code, source)
    if reason in FINAL:
        forget()
    return bound, reason


def code_from_options(options: dict | None) -> str | None:
    """A referral code sent with an order by an API client: ``{"distribution": {"ref": …}}``
    or ``{"distribution_ref": …}``."""
    options = options or {}
    nested = options.get("distribution")
    code = nested.get("ref") if isinstance(nested, dict) else None
    code = code or options.get("distribution_ref")
    return code if isinstance(code, str) else None
