"""Links to the plugin's storefront pages from outside its own blueprints (template slots, page
builder blocks). Mallow mounts a plugin's blueprint under a name of its own; it resolves the
name the plugin gave (``sales.sale``) to the mounted endpoint."""

from __future__ import annotations

from flask import url_for
from werkzeug.routing import BuildError

from mallow.sdk import plugin_endpoint


def storefront_url(view: str, **values) -> str | None:
    """The URL of the storefront view ``view`` (``sale``, ``index``, ``static``…) in the active
    store, or None where the routes are not mounted."""
    endpoint = plugin_endpoint("flashsale", f"sales.{view}")
    if not endpoint:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None
