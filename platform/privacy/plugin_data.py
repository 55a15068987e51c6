"""Plugins' own rows in a shopper's data rights: their sections of the export
(``mallow_customer_data``) and their part of the deletion (``mallow_erase_customer``).

Which plugins are asked: every loaded plugin whose tables exist in the active store, i.e. every
plugin the store has a ``store_plugins`` row for, **enabled or not**: disabling a plugin keeps its
tables and their rows (:mod:`mallow.plugin_host.storeplugins`), and what they hold about a shopper
is still theirs to download and to have erased. A plugin never enabled in the store has no tables
there and is not asked; nor is a switched-off plugin without the ``tables`` permission (it holds
nothing in the store). A plugin with a row whose code is not loaded (withdrawn, not installed
any more) cannot be asked: the deletion records its name under ``erased["plugins_not_asked"]``
(and logs it) so the platform can follow up; so does a loaded plugin that does not implement the
erasure hook while its manifest has the ``tables`` permission.

Each implementation is called through the one guard (:func:`mallow.plugins.guard.call`: as the
plugin, in a savepoint, timed against its budget, blamed). The erasure **fails closed**: an
implementation that raises, answers the wrong type, or whose savepoint had to be rolled back
(it swallowed a database error: its writes are gone while its answer would say "done") makes the
whole deletion refused, with the plugin's "<title> is unavailable right now" message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app, g

from mallow.db import db
from mallow.plugins import guard
from mallow.plugins.faults import failure_message
from mallow.plugins.models import StorePlugin
from mallow.plugins.stores import enabled_plugins, settings_with_defaults
from mallow.tenants.context import current_store
from mallow.tenants.views import store_view

log = logging.getLogger("mallow.privacy")
EXPORT_HOOK = "mallow_customer_data"
ERASE_HOOK = "mallow_erase_customer"


def _store_plugins() -> dict[str, StorePlugin]:
    store = current_store()
    rows = db.session.execute(sa.select(StorePlugin).where(StorePlugin.store_id == store.id)).scalars()
    return {row.name: row for row in rows}


@contextmanager
def _including(names: dict[str, dict]) -> Iterator[None]:
    """For the block: the request's enabled plugins and ``names`` (plugins switched off in the
    store whose tables still hold rows), so the guard calls them and their ``plugin_settings``
    answer. A new dict for ``g``: the per-process memory of enabled plugins is never touched."""
    before = enabled_plugins()
    had = "mallow_enabled_plugins" in g
    widened = g.mallow_enabled_plugins = {**names, **before}
    try:
        yield
    finally:
        # a plugin the circuit breaker switched off meanwhile stays off for the rest of the request
        tripped = set(widened) - set(g.get("mallow_enabled_plugins") or {})
        if had or tripped:
            g.mallow_enabled_plugins = {name: s for name, s in before.items() if name not in tripped}
        else:
            g.pop("mallow_enabled_plugins", None)


@dataclass
class Asked:
    """Who was asked and what they answered: ``{plugin: answer}`` of those that answered (not
    None), ``succeeded``: every plugin called without a fault,
    ``failed`` (plugin → message) of those that failed, ``not_asked`` of those that hold tables in
    the store but could not be asked."""

    answers: dict[str, object] = field(default_factory=dict)
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_asked: list[str] = field(default_factory=list)


def _impls(hook: str, holders: set[str]) -> list:
    manager = current_app.extensions["mallow.plugins"]
    caller = getattr(manager.hook, hook)
    return [impl for impl in guard.ordered(caller.get_hookimpls()) if guard.impl_name(impl) in holders]


def ask(hook: str, customer) -> Asked:
    """Call ``hook(store, customer)`` of every loaded plugin whose tables exist in the active
    store, each guarded, in plugin-name order."""
    loaded = current_app.extensions.get("mallow.loaded_plugins") or {}
    rows = _store_plugins()
    asked = Asked()
    holders = {name for name in rows if name in loaded}
    impls = _impls(hook, holders)
    implemented = {guard.impl_name(impl) for impl in impls}
    for name in sorted(rows):
        manifest = loaded.get(name)
        if manifest is None or (name not in implemented and "tables" in (manifest.permissions or ())):
            asked.not_asked.append(name)
    enabled = enabled_plugins()
    switched_off = {
        name: settings_with_defaults(loaded[name], rows[name].settings)
        for name in implemented
        if name not in enabled and "tables" in (loaded[name].permissions or ())
    }
    impls = [impl for impl in impls if guard.impl_name(impl) in enabled or guard.impl_name(impl) in switched_off]
    kwargs = {"store": store_view(current_store()), "customer": customer}
    session = db.session()
    with _including(switched_off):
        for impl in impls:
            name = guard.impl_name(impl)
            messages: list[str] = []
            with _undone_savepoints(session) as undone:
                answer = guard.call(impl, hook, kwargs, failed=messages.append)
            if answer is guard.NOTHING or undone:
                asked.failed[name] = messages[0] if messages else failure_message(name)
            else:
                asked.succeeded.append(name)
                if answer is not None:
                    asked.answers[name] = answer
    return asked


@contextmanager
def _undone_savepoints(session) -> Iterator[list]:
    """A list that gets an entry when a savepoint opened directly inside the current transaction
    is rolled back during the block (the guard's own, when the plugin failed or swallowed a
    database error: the plugin's writes are gone), or when the plugin ended the transaction."""
    undone: list = []
    if not session.in_transaction():
        session.execute(sa.select(1))  # begin: the guard then runs the plugin in a savepoint
    current = session.get_nested_transaction() or session.get_transaction()
    root = session.get_transaction()

    def rolled_back(_session, previous) -> None:
        if previous.nested and previous.parent is current:
            undone.append(previous)

    sa.event.listen(session, "after_soft_rollback", rolled_back)
    try:
        yield undone
    finally:
        sa.event.remove(session, "after_soft_rollback", rolled_back)
        if session.get_transaction() is not root:
            undone.append("transaction ended by the plugin")


__all__ = ["ERASE_HOOK", "EXPORT_HOOK", "Asked", "ask"]
