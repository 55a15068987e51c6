"""Sending is rate-limited per person (``CHAT_RATE_LIMIT``, 20 per minute): the shopper, or the
staff member, of this store; the pages and the API count together."""

from __future__ import annotations

from flask import current_app, request

from mallow.accounts.guards import principal
from mallow.extensions import limiter
from mallow.tenants.context import current_store


def _sender_key() -> str:
    """Sending is limited per person: the shopper (or staff member) of this store."""
    store = current_store()
    shopper = principal("shopper")
    if shopper is not None:
        return f"chat:{store.id if store else 0}:shopper:{shopper.id}"
    merchant = principal("merchant")
    return f"chat:{store.id if store else 0}:merchant:{merchant.id if merchant else request.remote_addr}"


def send_limits(view):
    """``CHAT_RATE_LIMIT`` (20 per minute) messages per sender, for the page and the API alike."""
    return limiter.shared_limit(
        lambda: current_app.config.get("CHAT_RATE_LIMIT") or "20 per minute",
        scope="chat-send",
        key_func=_sender_key,
        methods=["POST"],
        error_message="too many chat messages",
    )(view)
