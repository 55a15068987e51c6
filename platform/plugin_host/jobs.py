"""Jobs and schedules of plugins, registered through ``mallow_register_jobs(register)``.

    @hookimpl
    def mallow_register_jobs(register):
        register("groupbuy.sweep", sweep, every_seconds=60)   # a schedule over the stores that enabled it
        register("groupbuy.remind", remind)                    # a store job: enqueue with store_id=…

``register(name, func, *, every_seconds=None, store=True, idempotent=False)``; ``name`` is
``<plugin>.<job>``:

* a **store job** (the default): ``func(store, **kwargs)`` runs inside the store named by the
  ``store_id`` argument, and only if that store has the plugin enabled (elsewhere it does
  nothing and returns None): a plugin's tables exist only in stores that enabled it once;
* with ``every_seconds``, a **schedule** (a sweep): job ``<name>`` runs every ``every_seconds``
  over the open or suspended stores that have the plugin enabled, each in its own store context,
  calling ``func(store, now)`` (``now`` an aware datetime); one store's failure is logged and
  does not stop the others. ``<name>_store`` runs it for one store (``store_id=…``, optional
  ``now`` as an ISO time). A sweep must be idempotent: a failed ``<name>_store`` is retried;
* ``store=False``: a platform job ``func(**kwargs)`` in an app context (periodic with
  ``every_seconds``);
* ``idempotent=True`` (jobs that give the same result when run again) lets a failed run be
  retried, as for :func:`mallow.jobs.job`.

Each job goes into the job registry of the app the plugin is loaded into
(:func:`mallow.jobs.registry.jobs_of`); ``app.extensions["mallow.plugin_jobs"]`` records which
plugin owns each name. Another app in the same process (tests) never sees them.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime, UTC
from collections.abc import Callable

from flask import Flask, current_app

from mallow.db import db
from mallow.jobs.registry import JobSpec, jobs_of
from mallow.plugins.acting import acting_as
from mallow.plugins.models import StorePlugin
from mallow.plugins.stores import enabled_plugins
from mallow.tenants.context import store_context
from mallow.tenants.models import Store

log = logging.getLogger("mallow.jobs")
STORE_SUFFIX = "_store"


@dataclass(frozen=True)
class PluginJob:
    plugin: str
    run: Callable  # run(store, **kwargs) for a store job, run(**kwargs) otherwise


def _when(now: str | None) -> datetime:
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stores_with(plugin: str) -> list[int]:
    """Ids of the open or suspended stores that have ``plugin`` enabled (needs an app context)."""
    return list(
        db.session.execute(
            db.select(StorePlugin.store_id)
            .join(Store, Store.id == StorePlugin.store_id)
            .where(StorePlugin.name == plugin, StorePlugin.enabled.is_(True), Store.status.in_(("open", "suspended")))
            .order_by(StorePlugin.store_id)
        ).scalars()
    )


def _enabled_here(plugin: str) -> bool:
    return plugin in enabled_plugins()


def _as_plugin(plugin: str, func: Callable) -> Callable:
    """``func`` run as its plugin (:mod:`mallow.plugins.acting`): the SDK's session checks the
    plugin's permissions, and a fault is blamed on it."""

    @functools.wraps(func)
    def run_as_plugin(*args, **kwargs):
        with acting_as(plugin):
            return func(*args, **kwargs)

    return run_as_plugin


def _store_job(plugin: str, func: Callable) -> Callable:
    def run(store, **kwargs):
        return func(store, **kwargs) if _enabled_here(plugin) else None

    return run


def _one_store(plugin: str, func: Callable) -> Callable:
    def run(store, now: str | None = None):
        return func(store, _when(now)) if _enabled_here(plugin) else None

    return run


def _every_store(plugin: str, name: str, func: Callable) -> Callable:
    def run(now: str | None = None) -> dict:
        app = current_app._get_current_object()
        results = {}
        for store_id in stores_with(plugin):
            try:
                with store_context(store_id, app=app) as store:
                    if _enabled_here(plugin):  # loaded in this app, still enabled
                        results[store_id] = func(store, _when(now))
            except Exception:  # one store's failure must not stop the others
                log.exception("%s failed for store %s", name, store_id)
                results[store_id] = "failed"
        return results

    return run


def registrar(app: Flask, plugin: str) -> Callable:
    """The ``register`` callback handed to one plugin's ``mallow_register_jobs``."""
    registry = jobs_of(app)
    jobs: dict[str, PluginJob] = app.extensions.setdefault("mallow.plugin_jobs", {})
    pattern = re.compile(rf"^{re.escape(plugin)}(\.[a-z][a-z0-9_]*)+$")

    def add(name: str, store: bool, run: Callable, idempotent: bool = False, every: float | None = None) -> None:
        if name in jobs:
            raise ValueError(f"plugin {plugin}: job {name!r} is registered twice")
        registry.add(JobSpec(name, run, store, idempotent, every))  # refuses a name Mallow's own jobs use
        jobs[name] = PluginJob(plugin, run)

    def register(
        name: str, func: Callable, *, every_seconds: float | None = None, store: bool = True, idempotent: bool = False
    ) -> None:
        func = _as_plugin(plugin, func) if callable(func) else func
        if not isinstance(name, str) or not pattern.match(name):
            raise ValueError(f"plugin {plugin}: a job name is {plugin!r}, a dot and lower-case words, not {name!r}")
        if not callable(func):
            raise TypeError(f"plugin {plugin}: job {name!r} needs a function")
        if every_seconds is not None and (
            isinstance(every_seconds, bool) or not isinstance(every_seconds, (int, float)) or every_seconds <= 0
        ):
            raise ValueError(f"plugin {plugin}: job {name!r}: every_seconds must be a positive number")
        if store and every_seconds:  # a sweep: idempotent by contract, so one store's run may be retried
            add(name, False, _every_store(plugin, name, func), every=float(every_seconds))
            add(name + STORE_SUFFIX, True, _one_store(plugin, func), idempotent=True)
        elif store:
            add(name, True, _store_job(plugin, func), idempotent)
        else:
            add(name, False, func, idempotent, float(every_seconds) if every_seconds else None)

    return register
