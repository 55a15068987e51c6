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


def each_result(hook_name: str, **kwargs):
    """Call ``hook_name`` through :func:`hooks` one implementation at a time, in a fixed order
    (by plugin name), yielding ``(plugin name, result)``; an implementation that raises is
    logged with its plugin's name and skipped, so one broken plugin cannot break a page."""
    import logging

    caller = getattr(hooks(), hook_name)
    for impl in sorted(caller.get_hookimpls(), key=lambda impl: impl.plugin_name):
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception:
            logging.getLogger("mallow.plugins").exception("plugin %s failed in %s", impl.plugin_name, hook_name)
            continue
        if result is not None:
            yield impl.plugin_name.removeprefix("plugin:"), result
