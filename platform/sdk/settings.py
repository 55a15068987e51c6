"""A plugin's place in the active store: enabled or not, its settings, its mounted endpoints."""

from __future__ import annotations

from typing import Any

from flask import g

from mallow.plugin_host import loader
from mallow.plugins.routes import mounted_endpoint
from mallow.plugins.stores import enabled_plugins, settings_for
from mallow.tenants.context import current_store


def plugin_settings(plugin: str) -> dict[str, Any]:
    """The active store's settings for ``plugin`` (manifest defaults where unset)."""
    return settings_for(plugin)


def save_plugin_settings(plugin: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Replace the active store's settings of ``plugin`` through the platform's own path (validated
    against the manifest's ``settings_schema``, defaults filled in; raises ``ValidationFailed``).
    Returns the stored settings; :func:`plugin_settings` reads them from now on. The caller commits."""
    row = loader.save_settings(current_store().id, plugin, settings)
    g.pop("mallow_enabled_plugins", None)  # read again on next use
    return dict(row.settings)


def plugin_enabled(plugin: str) -> bool:
    """Whether the active store has ``plugin`` enabled (False outside a store)."""
    return plugin in enabled_plugins()


def plugin_endpoint(plugin: str, endpoint: str) -> str | None:
    """The app's endpoint for ``endpoint`` as ``plugin`` named it (``"<blueprint>.<view>"`` of a
    blueprint it registered), for ``url_for`` outside the plugin's own requests; ``None`` when it
    is not mounted. Inside its own templates and views a relative ``url_for(".view")`` is enough."""
    return mounted_endpoint(plugin, endpoint)
