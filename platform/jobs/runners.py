"""The two runners behind ``app.extensions['mallow.jobs']``: rq (Redis) and embedded. Each runs
the jobs of its own app (:func:`~mallow.jobs.registry.jobs_of`)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any

from mallow.jobs.registry import PermanentJobError, execute, jobs_of
from mallow.observability.metrics import counting_failures

log = logging.getLogger("mallow.jobs")

#: seconds before each retry of a failed idempotent job (rq); other jobs are not retried
RETRY_INTERVALS = (30, 120, 600)


def run_job(name: str, kwargs: dict) -> Any:
    """The function rq workers call (and the only one :class:`mallow.jobs.worker.MallowWorker`
    calls), with the app the worker process was started with (:func:`serve_with`)."""
    with counting_failures(name):  # mallow_job_failures_total (summed in /metrics when sharing its multiprocess dir)
        return execute(worker_app(), name, kwargs)


_APP = None


def serve_with(app) -> None:
    """Make ``app`` the one this worker process runs jobs with (``mallow worker`` does it, from
    the app it built; the jobs layer never builds an app itself)."""
    global _APP
    _APP = app


def worker_app():
    """The app this worker process runs jobs with (:func:`serve_with`)."""
    if _APP is None:
        raise RuntimeError("this process runs no Mallow worker: start workers with `mallow worker`")
    return _APP


class RqRunner:
    kind = "rq"

    def __init__(self, app, redis_url: str, queue_name: str = "mallow"):
        from redis import Redis
        from rq import Queue
        from rq.serializers import JSONSerializer

        self.app = app
        # A Redis that does not answer must not hold a request for long (no socket_timeout:
        # the worker's blocking dequeue waits longer than any sensible one).
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=3)
        self.queue = Queue(queue_name, connection=self.redis, serializer=JSONSerializer)

    def enqueue(self, name: str, *, job_id: str | None = None, delay: float | None = None, **kwargs):
        """Queue job ``name``; never raises. Jobs are queued after a commit (an order placed, a
        refund promised), and nothing after a commit may turn it into an error: when Redis cannot
        take the job the failure is logged and ``None`` returned. The work is a database state
        that a periodic sweep finds, so a lost job only delays it."""
        from datetime import timedelta

        options = {"job_id": job_id, "retry": _retry(self.app, name), "job_timeout": 180}
        try:
            if delay:
                return self.queue.enqueue_in(timedelta(seconds=delay), run_job, name, kwargs, **options)
            return self.queue.enqueue(run_job, name, kwargs, **options)
        except Exception:  # noqa: BLE001 -- Redis down or refusing: the sweep does the work later
            log.exception("could not enqueue job %s; its periodic sweep will pick the work up", name)
            return None

    def run_periodic_due(self, state: dict, now: float | None = None) -> list[str]:
        """Enqueue each periodic job whose interval has passed (called by ``mallow worker``);
        a Redis key per job keeps several workers from enqueuing the same run."""
        now = now or time.time()
        fired = []
        for name, every in jobs_of(self.app).periodic().items():
            if now - state.get(name, 0) < every:
                continue
            slot = int(now // every)
            try:
                first = self.redis.set(
                    f"mallow:periodic:{self.queue.name}:{name}:{slot}", 1, nx=True, ex=int(every) + 60
                )
            except Exception:  # noqa: BLE001 -- Redis away: try again next round, keep scheduling
                log.exception("periodic jobs: Redis did not answer; trying again next round")
                return fired
            if first:
                self.enqueue(name)
                fired.append(name)
            state[name] = now
        return fired

    def drop_store_jobs(self, store_id: int) -> int:
        """Delete every queued or scheduled job of store ``store_id`` (a purged store's); returns
        how many. Reads each job's arguments only (JSON), runs nothing."""
        from rq.registry import ScheduledJobRegistry

        registry = ScheduledJobRegistry(queue=self.queue)
        dropped = 0
        for job_id in list(self.queue.get_job_ids()) + list(registry.get_job_ids()):
            found = self.queue.fetch_job(job_id)
            if found is None or not _for_store(found.args, store_id):
                continue
            registry.remove(found, delete_job=False)
            found.delete(remove_from_queue=True)
            log.warning("job %s of store %s deleted: the store is purged", found.args[0], store_id)
            dropped += 1
        return dropped

    def close(self):
        self.redis.close()


class EmbeddedRunner:
    """Runs jobs on one background thread of this process; periodic jobs included.

    Queued jobs live in memory: they are lost if the process stops. Everything Mallow must not
    lose is a database state swept by a periodic job (e.g. unpaid orders past their time), so a
    restart only delays it. A failed job is logged, not retried: its sweep does the work again.
    Use Redis (``REDIS_URL``) for durable, multi-process queues.
    """

    kind = "embedded"

    def __init__(self, app):
        self.app = app
        self._queue: list = []
        self._counter = itertools.count()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._last_periodic: dict[str, float] = {}

    def enqueue(self, name: str, *, job_id: str | None = None, delay: float | None = None, **kwargs):
        with self._cv:
            heapq.heappush(self._queue, (time.time() + (delay or 0), next(self._counter), name, kwargs))
            self._cv.notify()
        return job_id

    def drop_store_jobs(self, store_id: int) -> int:
        """Remove every queued job of store ``store_id`` (a purged store's); returns how many."""
        with self._cv:
            kept = [entry for entry in self._queue if not _for_store((entry[2], entry[3]), store_id)]
            dropped = len(self._queue) - len(kept)
            heapq.heapify(kept)
            self._queue = kept
        if dropped:
            log.warning("%s queued job(s) of store %s deleted: the store is purged", dropped, store_id)
        return dropped

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="mallow-jobs", daemon=True)
            self._thread.start()

    def stop(self, wait: float | None = None) -> None:
        """Stop after the job running now (``wait``: seconds to wait for the thread to end)."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        if wait and self._thread is not None:
            self._thread.join(wait)

    def run_pending(self, now: float | None = None) -> int:
        """Run every job due by ``now`` (periodic ones included) in this thread."""
        now = now or time.time()
        for name, every in jobs_of(self.app).periodic().items():
            if now - self._last_periodic.get(name, 0) >= every:
                self._last_periodic[name] = now
                self.enqueue(name)
        ran = 0
        while not self._stop:
            with self._cv:
                if not self._queue or self._queue[0][0] > now:
                    return ran
                _, _, name, kwargs = heapq.heappop(self._queue)
            self._run(name, kwargs)
            ran += 1
        return ran

    def _run(self, name, kwargs):
        try:
            with counting_failures(name):
                execute(self.app, name, kwargs)
        except PermanentJobError as exc:  # no store, unknown job, …: one line, no traceback
            log.warning("job %s failed for good: %s", name, exc)
        except Exception:
            log.exception("job %s failed", name)

    def _loop(self):
        while not self._stop:
            self.run_pending()
            with self._cv:
                wait = min(1.0, max(0.0, self._queue[0][0] - time.time())) if self._queue else 1.0
                self._cv.wait(wait)

    def close(self):
        self.stop()


def _for_store(args, store_id: int) -> bool:
    """Whether queued ``(name, kwargs)`` is a job of store ``store_id``."""
    kwargs = args[1] if isinstance(args, (list, tuple)) and len(args) == 2 else None
    found = kwargs.get("store_id") if isinstance(kwargs, dict) else None
    return found is not None and not isinstance(found, bool) and str(found) == str(int(store_id))


def _retry(app, name: str):
    """rq's bounded retry for an idempotent job (it may run again after a failure or a killed
    worker, so it must give the same result); None for the others."""
    from rq import Retry

    spec = jobs_of(app).spec_of(name)
    return Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)) if spec and spec.idempotent else None


def make_runner(app):
    url = app.config.get("REDIS_URL")
    return RqRunner(app, url) if url else EmbeddedRunner(app)
