"""The one pluggy ``PluginManager`` of the app (``app.extensions['mallow.plugins']``), and the
per-store view of it: a plugin's hooks run only in stores that enabled it."""
from __future__ import annotations

import pluggy
from flask import current_app

from mallow.plugins import hookspecs


def make_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("mallow")
    manager.add_hookspecs(hookspecs)
    from mallow.shipping import fees

    manager.register(fees, name="mallow.shipping")  # built-in: registered first, so it runs last
    return manager


class StoreHooks:
    """``hooks().mallow_x(...)`` for one set of disabled plugins (cached per set)."""

    def __init__(self, manager: pluggy.PluginManager, disabled: frozenset[str]):
        from mallow.plugins.loader import plugin_key

        self._manager = manager
        self._remove = [manager.get_plugin(plugin_key(name)) for name in disabled]
        self._callers: dict[str, object] = {}

    def __getattr__(self, name: str):
        if not name.startswith("mallow_"):
            raise AttributeError(name)
        caller = self._callers.get(name)
        if caller is None:
            caller = self._callers[name] = self._manager.subset_hook_caller(name, remove_plugins=self._remove)
        return caller


def hooks():
    """The hook relay for the current request or job: core implementations plus the plugins
    the active store has enabled (none outside a store)."""
    from mallow.plugins.stores import enabled_plugins

    app = current_app
    manager = app.extensions["mallow.plugins"]
    loaded = app.extensions.get("mallow.loaded_plugins", {})
    if not loaded:
        return manager.hook
    disabled = frozenset(name for name in loaded if name not in enabled_plugins())
    if not disabled:
        return manager.hook
    cache = app.extensions.setdefault("mallow.store_hooks", {})
    relay = cache.get(disabled)
    if relay is None:
        relay = cache[disabled] = StoreHooks(manager, disabled)
    return relay
