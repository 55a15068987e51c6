"""One job runner for the whole platform.

Jobs are plain functions declared by name (:func:`job`), called with JSON-serialisable
keyword arguments; a job that works on a store declares ``store=True`` and receives the store
through ``store_context`` (a job without a store id fails closed; one for a suspended, closed or
purged store is dropped and logged: :func:`~mallow.jobs.registry.execute`). Periodic jobs
(``every_seconds=…``, and every :func:`store_sweep`) run on a fixed interval. Declaring is all
a module does: ``create_app`` installs the job modules it lists into the app's
:class:`~mallow.jobs.registry.JobRegistry` (:func:`~mallow.jobs.registry.jobs_of`), and every
lookup — the runners, the rq worker — goes through the app.

* ``REDIS_URL`` set: :class:`~mallow.jobs.runners.RqRunner` enqueues to rq (JSON serializer,
  never pickle); ``mallow worker`` runs the rq worker and the periodic scheduler. That worker
  (:class:`~mallow.jobs.worker.MallowWorker`) runs the app's registered jobs only: anything else
  found in Redis is refused and logged without importing what it names. A failure that cannot be
  mended (:class:`~mallow.jobs.registry.PermanentJobError`) is never retried.
* no ``REDIS_URL`` (embedded default): :class:`~mallow.jobs.runners.EmbeddedRunner` runs jobs
  on a background thread inside ``mallow serve``, periodic jobs included.
"""

from mallow.jobs.registry import job, jobs_of  # noqa: F401
from mallow.jobs.sweeps import store_sweep  # noqa: F401
