"""Which plugins a store has enabled, with which settings (filled in by the plugin platform)."""
from __future__ import annotations

from flask import g


def enabled_plugins() -> dict[str, dict]:
    """``{plugin name: settings}`` for the active store; empty outside a store."""
    return g.get("mallow_enabled_plugins", {})


def settings_for(plugin: str) -> dict:
    return dict(enabled_plugins().get(plugin, {}))
