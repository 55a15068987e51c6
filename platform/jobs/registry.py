"""Registering jobs by name and running one with its tenant context."""
from __future__ import annotations

import inspect
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable

_JOBS: dict[str, "JobSpec"] = {}
_PERIODIC: dict[str, float] = {}


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable
    store: bool
    idempotent: bool = False


def job(name: str, *, store: bool = False, idempotent: bool = False):
    """Register ``func`` as job ``name``. With ``store=True`` it runs inside the store given
    by the ``store_id`` argument, and refuses to run without one.

    ``idempotent=True`` promises that running the job twice (or after a half-finished run)
    gives the same result as one clean run; only such jobs are retried when they fail (rq:
    :data:`mallow.jobs.runners.RETRY_INTERVALS`)."""

    def register(func):
        if name in _JOBS and _JOBS[name].func is not func:
            raise ValueError(f"job {name!r} is registered twice")
        _JOBS[name] = JobSpec(name, func, store, idempotent)
        return func

    return register


def periodic(name: str, every_seconds: float):
    """Run job ``name`` (registered with :func:`job`) every ``every_seconds``."""
    _PERIODIC[name] = float(every_seconds)


def spec_of(name: str) -> JobSpec | None:
    return _JOBS.get(name)


def registered() -> dict[str, JobSpec]:
    return dict(_JOBS)


def periodic_jobs() -> dict[str, float]:
    return dict(_PERIODIC)


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


def check_call(name, kwargs) -> JobSpec:
    """The spec of job ``name`` if it can be called with ``kwargs`` (JSON data from a queue);
    raises a :class:`PermanentJobError` otherwise. Imports and runs nothing."""
    spec = _JOBS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise UnknownJob(f"unknown job {name!r}")
    if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
        raise BadJobArguments(f"job {name!r}: its arguments are not keyword arguments")
    call = dict(kwargs)
    if spec.store:
        store_id = call.pop("store_id", None)
        if store_id is None:
            raise NoStoreForJob(f"job {name!r} needs a store_id")
        if "store" in call or isinstance(store_id, bool) or not isinstance(store_id, (int, str)) \
                or not str(store_id).isdecimal():
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


def execute(app, name: str, kwargs: dict):
    """Run job ``name`` in a fresh app context (and store context when it needs one)."""
    from mallow.tenants.context import store_context

    spec = check_call(name, kwargs)
    kwargs = dict(kwargs)
    if spec.store:
        store_id = int(kwargs.pop("store_id"))
        with ExitStack() as stack:
            try:
                store = stack.enter_context(store_context(store_id, app=app))
            except LookupError as exc:
                if type(exc) is not LookupError:  # a KeyError or so on the way in: not "no store"
                    raise
                raise StoreGone(f"job {name!r}: {exc}") from None  # deleted since it was queued
            return spec.func(store=store, **kwargs)
    with app.app_context():
        try:
            return spec.func(**kwargs)
        finally:
            from mallow.db import db

            db.session.remove()
