"""One job runner for the whole platform.

Jobs are plain functions registered by name (:func:`job`), called with JSON-serialisable
keyword arguments; a job that works on a store declares ``store=True`` and receives the store
through ``store_context`` (a job without a store id fails closed). Periodic jobs
(:func:`periodic`) run on a fixed interval.

* ``REDIS_URL`` set: :class:`~mallow.jobs.runners.RqRunner` enqueues to rq (JSON serializer,
  never pickle); ``mallow worker`` runs the rq worker and the periodic scheduler. That worker
  (:class:`~mallow.jobs.worker.MallowWorker`) runs registered jobs only: anything else found in
  Redis is refused and logged without importing what it names. A failure that cannot be mended
  (:class:`~mallow.jobs.registry.PermanentJobError`) is never retried.
* no ``REDIS_URL`` (embedded default): :class:`~mallow.jobs.runners.EmbeddedRunner` runs jobs
  on a background thread inside ``mallow serve``, periodic jobs included.
"""
from mallow.jobs.registry import job, periodic, registered  # noqa: F401
from mallow.jobs.sweeps import store_sweep  # noqa: F401
