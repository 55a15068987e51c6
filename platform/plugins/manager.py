"""The one pluggy ``PluginManager`` of the app (``app.extensions['mallow.plugins']``), and the
per-store view of it: a plugin's hooks run only in stores that enabled it.

Order lifecycle events (:data:`EVENTS`) report what has happened already: each implementation
runs in its own savepoint, and one that raises is logged with its plugin's name and its writes
are rolled back, while the order's change and the other plugins go on (a plugin catches up from
its own sweep)."""

from __future__ import annotations

import logging

import pluggy
from flask import current_app

from mallow.db import db
from mallow.plugins import hookspecs
from mallow.plugins.stores import enabled_plugins

log = logging.getLogger("mallow.plugins")
#: hooks that report a change of an order: a plugin that raises cannot undo it
EVENTS = frozenset({"mallow_order_paid", "mallow_order_cancelled", "mallow_order_refunded", "mallow_order_completed"})


def make_manager(builtins: dict[str, object]) -> pluggy.PluginManager:
    """The manager with the hook specifications and the core's own implementations
    (``{name: module}``, e.g. the shipping fees): registered first, so they run last."""
    manager = pluggy.PluginManager("mallow")
    manager.add_hookspecs(hookspecs)
    for name, module in builtins.items():
        manager.register(module, name=name)
    return manager


def plugin_key(name: str) -> str:
    """The name a loaded plugin is registered under in the manager."""
    return f"plugin:{name}"


def _plugin_name(impl) -> str:
    return impl.plugin_name.removeprefix("plugin:")


class Event:
    """Calls an event's implementations in pluggy's order, each in its own savepoint; one that
    raises is logged and skipped. Returns the non-None results, like a pluggy hook."""

    def __init__(self, caller):
        self._caller = caller
        self.name = caller.name

    def get_hookimpls(self):
        return self._caller.get_hookimpls()

    def __call__(self, **kwargs) -> list:
        impls = self._caller.get_hookimpls()
        if any(impl.hookwrapper or impl.wrapper for impl in impls):
            return self._caller(**kwargs)  # wrappers need pluggy's own call loop
        results = []
        for impl in reversed(impls):  # pluggy calls the last registered first
            try:
                with db.session.begin_nested():
                    result = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception:
                log.exception("plugin %s failed in %s", _plugin_name(impl), self.name)
                continue
            if result is not None:
                results.append(result)
        return results


class StoreHooks:
    """``hooks().mallow_x(...)`` for one set of disabled plugins (cached per set)."""

    def __init__(self, manager: pluggy.PluginManager, disabled: frozenset[str]):
        self._manager = manager
        self._remove = [manager.get_plugin(plugin_key(name)) for name in disabled]
        self._callers: dict[str, object] = {}

    def __getattr__(self, name: str):
        if not name.startswith("mallow_"):
            raise AttributeError(name)
        caller = self._callers.get(name)
        if caller is None:
            caller = (
                self._manager.subset_hook_caller(name, remove_plugins=self._remove)
                if self._remove
                else getattr(self._manager.hook, name)
            )
            if name in EVENTS:
                caller = Event(caller)
            self._callers[name] = caller
        return caller


def hooks():
    """The hook relay for the current request or job: core implementations plus the plugins
    the active store has enabled (none outside a store)."""
    app = current_app
    manager = app.extensions["mallow.plugins"]
    loaded = app.extensions.get("mallow.loaded_plugins", {})
    disabled = frozenset(name for name in loaded if name not in enabled_plugins()) if loaded else frozenset()
    cache = app.extensions.setdefault("mallow.store_hooks", {})
    relay = cache.get(disabled)
    if relay is None:
        relay = cache[disabled] = StoreHooks(manager, disabled)
    return relay


def each_result(hook_name: str, **kwargs):
    """Call ``hook_name`` through :func:`hooks` one implementation at a time, in a fixed order
    (by plugin name), yielding ``(plugin name, result)``; an implementation that raises is
    logged with its plugin's name and skipped, so one broken plugin cannot break a page."""
    caller = getattr(hooks(), hook_name)
    for impl in sorted(caller.get_hookimpls(), key=lambda impl: impl.plugin_name):
        try:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception:
            log.exception("plugin %s failed in %s", _plugin_name(impl), hook_name)
            continue
        if result is not None:
            yield _plugin_name(impl), result
