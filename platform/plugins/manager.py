"""The one pluggy ``PluginManager`` of the app (``app.extensions['mallow.plugins']``), and the
per-store view of it: a plugin's hooks run only in stores that enabled it.

``hooks().mallow_x(**kwargs)`` calls every implementation through the guard
(:mod:`mallow.plugins.guard`): as its plugin, in a savepoint, timed against the hook's budget,
its exceptions and wrong answers contained and blamed, in a fixed order (plugins by name, then
Mallow's built-ins). Order lifecycle events (:data:`EVENTS`) report what has happened already:
a plugin that raises there is logged with its name and its writes are rolled back, while the
order's change and the other plugins go on (a plugin catches up from its own sweep)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pluggy
from flask import current_app

from mallow.db.session import context_globals
from mallow.plugins import guard, hookspecs
from mallow.plugins.guard import EVENTS, GuardedHook
from mallow.plugins.stores import enabled_plugins

__all__ = ["EVENTS", "each_result", "hooks", "make_manager", "plugin_key"]


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
    return f"{guard.PREFIX}{name}"


class StoreHooks:
    """``hooks().mallow_x(...)`` for one set of disabled plugins (cached per set)."""

    def __init__(self, manager: pluggy.PluginManager, disabled: frozenset[str]):
        self._manager = manager
        self._remove = [manager.get_plugin(plugin_key(name)) for name in disabled]

    def __getattr__(self, name: str) -> GuardedHook:
        """The first ``relay.mallow_x`` builds the hook's caller and keeps it as the instance's
        own attribute: later lookups are plain attribute reads (``__getattr__`` runs only after
        a lookup failed, and that failure is an ``AttributeError`` made and formatted)."""
        if not name.startswith("mallow_"):
            raise AttributeError(name)
        pluggy_caller = (
            self._manager.subset_hook_caller(name, remove_plugins=self._remove)
            if self._remove
            else getattr(self._manager.hook, name)
        )
        caller = self.__dict__[name] = GuardedHook(pluggy_caller, name)
        return caller


def hooks() -> StoreHooks:
    """The hook relay for the current request or job: core implementations plus the plugins
    the active store has enabled (none outside a store).

    Kept in the context's ``g`` with the enabled plugins it was made for: an order asks for it
    several times (pricing, then ``mallow_order_placed``), and working out the disabled set
    again each time cost more than a guarded call that does nothing. A plugin the breaker
    switches off meanwhile is still skipped: the guard asks ``enabled_plugins()`` at each call."""
    app = current_app._get_current_object()
    loaded = app.extensions.get("mallow.loaded_plugins", {})
    enabled = enabled_plugins() if loaded else {}
    here = context_globals()
    kept = here.get(_KEPT) if here is not None else None
    if kept is not None and kept[0] is enabled and kept[1] is loaded:
        return kept[2]
    disabled = frozenset(name for name in loaded if name not in enabled)
    cache = app.extensions.setdefault("mallow.store_hooks", {})
    relay = cache.get(disabled)
    if relay is None:
        relay = cache[disabled] = StoreHooks(app.extensions["mallow.plugins"], disabled)
    if here is not None:
        here[_KEPT] = (enabled, loaded, relay)
    return relay


#: where :func:`hooks` keeps the relay in the context's ``g``
_KEPT = "mallow_store_hooks"


def each_result(
    hook_name: str, *, failed: Callable[[str], None] | None = None, passthrough: tuple = (), **kwargs
) -> Iterator[tuple[str, object]]:
    """Call ``hook_name`` through :func:`hooks` one implementation at a time, in the fixed order
    (plugins by name, then built-ins under their registered name, e.g. ``mallow.shipping``),
    yielding ``(name, answer)`` for each non-None answer. An implementation that raises or
    answers the wrong type is logged with its plugin's name, counted and skipped, and reported
    to ``failed(message)`` when given ("<title> is unavailable right now"); ``passthrough``
    exceptions (deliberate answers) are raised as they are."""
    caller = getattr(hooks(), hook_name)
    yield from guard.each(caller, hook_name, kwargs, failed, passthrough)
