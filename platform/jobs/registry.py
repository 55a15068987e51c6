"""Declaring jobs, the app's job registry, and running one job with its tenant context.

:func:`job` only *declares*: it marks the function with what it is (name, store, idempotent,
schedule) and returns it unchanged. Importing a module registers nothing anywhere: ``create_app``
installs the job modules it lists into the app's own :class:`JobRegistry`
(``app.extensions["mallow.job_registry"]``, see :func:`jobs_of`), and plugins add theirs into the
app they are loaded into (:mod:`mallow.plugin_host.jobs`).
"""

from __future__ import annotations

import inspect
import logging
import types
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app, g

from mallow.db import db
from mallow.tenants import snapshots, stamps
from mallow.tenants.context import moved_since_activation, store_context

log = logging.getLogger("mallow.jobs")

EXTENSION = "mallow.job_registry"
#: the attribute :func:`job` puts its declarations in (a list: a sweep declares two jobs)
DECLARED = "mallow_jobs"


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable
    store: bool
    idempotent: bool = False
    #: a periodic job runs every so many seconds (None: only when queued)
    every_seconds: float | None = None


def job(name: str, *, store: bool = False, idempotent: bool = False, every_seconds: float | None = None):
    """Declare ``func`` as job ``name``. With ``store=True`` it runs inside the store given by
    the ``store_id`` argument, and refuses to run without one; with ``every_seconds`` it also
    runs on that interval.

    ``idempotent=True`` promises that running the job twice (or after a half-finished run)
    gives the same result as one clean run; only such jobs are retried when they fail (rq:
    :data:`mallow.jobs.runners.RETRY_INTERVALS`)."""

    def declare(func):
        spec = JobSpec(name, func, store, idempotent, float(every_seconds) if every_seconds else None)
        declare_on(func, spec)
        return func

    return declare


def declare_on(carrier: Callable, spec: JobSpec) -> None:
    """Record ``spec`` on ``carrier`` (the module-level function an app installs it from)."""
    carrier.__dict__.setdefault(DECLARED, []).append(spec)


class JobRegistry:
    """One app's jobs by name (core modules' and its plugins')."""

    def __init__(self):
        self._jobs: dict[str, JobSpec] = {}

    def add(self, spec: JobSpec) -> None:
        known = self._jobs.get(spec.name)
        if known is not None and known != spec:
            raise ValueError(f"job {spec.name!r} is registered twice")
        self._jobs[spec.name] = spec

    def install(self, source) -> None:
        """Add the jobs declared in a module (on its own functions) or on one function."""
        if isinstance(source, types.ModuleType):
            carriers = [
                value
                for value in vars(source).values()
                if isinstance(value, types.FunctionType) and value.__module__ == source.__name__
            ]
        else:
            carriers = [source]
        for carrier in carriers:
            for spec in carrier.__dict__.get(DECLARED, ()):
                self.add(spec)

    def spec_of(self, name: str) -> JobSpec | None:
        return self._jobs.get(name)

    def registered(self) -> dict[str, JobSpec]:
        return dict(self._jobs)

    def periodic(self) -> dict[str, float]:
        """Name → interval in seconds of every periodic job."""
        return {name: spec.every_seconds for name, spec in self._jobs.items() if spec.every_seconds}

    def check_call(self, name, kwargs) -> JobSpec:
        """The spec of job ``name`` if it can be called with ``kwargs`` (JSON data from a queue);
        raises a :class:`PermanentJobError` otherwise. Imports and runs nothing."""
        spec = self._jobs.get(name) if isinstance(name, str) else None
        if spec is None:
            raise UnknownJob(f"unknown job {name!r}")
        if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
            raise BadJobArguments(f"job {name!r}: its arguments are not keyword arguments")
        call = dict(kwargs)
        if spec.store:
            store_id = call.pop("store_id", None)
            if store_id is None:
                raise NoStoreForJob(f"job {name!r} needs a store_id")
            if (
                "store" in call
                or isinstance(store_id, bool)
                or not isinstance(store_id, (int, str))
                or not str(store_id).isdecimal()
            ):
                raise BadJobArguments(f"job {name!r}: store_id {store_id!r} is not a store id")
            call["store"] = None
        try:
            signature = inspect.signature(spec.func)
        except (TypeError, ValueError):  # no signature to check against: the call itself will tell
            return spec
        try:
            signature.bind(**call)
        except TypeError as exc:
            raise BadJobArguments(f"job {name!r}: {exc}") from None
        return spec


def init_app(app, modules: Iterable[types.ModuleType] = ()) -> JobRegistry:
    """Give ``app`` its job registry, with the jobs the listed ``modules`` declare."""
    registry = app.extensions[EXTENSION] = JobRegistry()
    for module in modules:
        registry.install(module)
    return registry


def jobs_of(app=None) -> JobRegistry:
    """The job registry of ``app`` (default: the current app)."""
    return (app if app is not None else current_app).extensions[EXTENSION]


class PermanentJobError(RuntimeError):
    """A failure that running the job again cannot mend (no such job, no store, a store that is
    gone, arguments the job does not take): the job fails at once, without retries
    (:class:`mallow.jobs.worker.MallowJob`), and is logged once. A job may raise it too."""


class UnknownJob(PermanentJobError, LookupError):
    pass


class NoStoreForJob(PermanentJobError):
    pass


class StoreGone(PermanentJobError, LookupError):
    pass


class BadJobArguments(PermanentJobError, TypeError):
    pass


#: seconds before a job of a store being moved runs again
MOVE_POSTPONE_SECONDS = 5


def _postpone(app, name: str, store_id: int, kwargs: dict) -> None:
    log.info("job %s of store %s postponed: the store is being moved", name, store_id)
    app.extensions["mallow.jobs"].enqueue(name, delay=MOVE_POSTPONE_SECONDS, store_id=store_id, **kwargs)


def _keep_store_row(app, store, stamp_before) -> None:
    """The store's row as the job read it serves the whole job (not one ``stores`` query per
    order: the flash sale's drain commits once per order, and each order asks whether the store
    takes orders) while the store's stamp is known to hold without a round trip: the one known
    before the row was read is the one the job runs under (so the row is at least as new as the
    stamp) and is still known each time the row would be put back (:func:`snapshots.keep_row`)."""
    if stamp_before is None or stamp_before != g.mallow_store_stamp:
        return
    app_stamps, store_id = app.extensions.get(stamps.EXTENSION), store.id
    snapshots.keep_row(store, lambda: stamps.known_without_round_trip(app_stamps, store_id) == stamp_before)


def execute(app, name: str, kwargs: dict):
    """Run ``app``'s job ``name`` in a fresh app context (and store context when it needs one)."""
    spec = jobs_of(app).check_call(name, kwargs)
    kwargs = dict(kwargs)
    if spec.store:
        store_id = int(kwargs.pop("store_id"))
        stamp_before = stamps.known_without_round_trip(app.extensions.get(stamps.EXTENSION), store_id)  # before the row
        with ExitStack() as stack:
            try:
                store = stack.enter_context(store_context(store_id, app=app))
            except LookupError as exc:
                if type(exc) is not LookupError:  # a KeyError or so on the way in: not "no store"
                    raise
                raise StoreGone(f"job {name!r}: {exc}") from None  # deleted since it was queued
            if not store.runs_jobs:  # suspended, closed, purged: the job is dropped, not retried
                log.warning("job %s dropped: store %s (%s) is %s", name, store.id, store.slug, store.status)
                return None
            if store.moving_to is not None:  # writes frozen for a move to another pod: later, never dropped
                return _postpone(app, name, store_id, kwargs)
            # as a request does: what the process keeps under the store's stamp (its settings, the
            # qualification check, plugin settings…) serves the job while the stamp it read holds;
            # a write of such data by the job itself drops it (tenants/stamps.py)
            g.mallow_store_stamp = stamps.current(store.id)
            _keep_store_row(app, store, stamp_before)
            try:
                return spec.func(store=store, **kwargs)
            except sa.exc.DBAPIError:
                if not moved_since_activation():  # it met the old pod's schema as the move dropped it
                    raise
                return _postpone(app, name, store_id, kwargs)
    with app.app_context():
        try:
            return spec.func(**kwargs)
        finally:
            db.session.remove()
