"""The notify URL a provider posts a store's payment and refund notifications to."""

from __future__ import annotations

from flask import current_app, has_request_context, request

from mallow.tenants.context import current_store


def notify_url(provider_name: str) -> str | None:
    """The https URL the provider posts notifications to: the store is in the path, nothing in
    the query string. ``MALLOW_PUBLIC_URL`` (e.g. ``https://mall.example.com``) when set, else the
    host of the current request."""
    store = current_store()
    base = current_app.config.get("MALLOW_PUBLIC_URL")
    if not base and has_request_context():
        base = "https://" + request.host
    if not base or store is None:
        return None
    return f"{base.rstrip('/')}/s/{store.slug}/api/payments/{provider_name}/notify"
