"""Registering jobs by name and running one with its tenant context."""
from __future__ import annotations

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


class NoStoreForJob(RuntimeError):
    pass


def execute(app, name: str, kwargs: dict):
    """Run job ``name`` in a fresh app context (and store context when it needs one)."""
    from mallow.tenants.context import store_context

    spec = _JOBS.get(name)
    if spec is None:
        raise LookupError(f"unknown job {name!r}")
    kwargs = dict(kwargs)
    if spec.store:
        store_id = kwargs.pop("store_id", None)
        if store_id is None:
            raise NoStoreForJob(f"job {name!r} needs a store_id")
        with store_context(int(store_id), app=app) as store:
            return spec.func(store=store, **kwargs)
    with app.app_context():
        try:
            return spec.func(**kwargs)
        finally:
            from mallow.db import db

            db.session.remove()
