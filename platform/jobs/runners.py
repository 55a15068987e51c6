"""The two runners behind ``app.extensions['mallow.jobs']``: rq (Redis) and embedded."""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any

from mallow.jobs.registry import execute, periodic_jobs

log = logging.getLogger("mallow.jobs")


def run_job(name: str, kwargs: dict) -> Any:
    """The function rq workers call: rebuilds the app from the environment once per process."""
    return execute(_worker_app(), name, kwargs)


_APP = None


def _worker_app():
    global _APP
    if _APP is None:
        from mallow.app import create_app

        _APP = create_app()
    return _APP


class RqRunner:
    kind = "rq"

    def __init__(self, app, redis_url: str, queue_name: str = "mallow"):
        from redis import Redis
        from rq import Queue
        from rq.serializers import JSONSerializer

        self.app = app
        self.redis = Redis.from_url(redis_url)
        self.queue = Queue(queue_name, connection=self.redis, serializer=JSONSerializer)

    def enqueue(self, name: str, *, job_id: str | None = None, delay: float | None = None, **kwargs):
        from datetime import timedelta

        options = {"job_id": job_id, "retry": None, "job_timeout": 180}
        if delay:
            return self.queue.enqueue_in(timedelta(seconds=delay), run_job, name, kwargs, **options)
        return self.queue.enqueue(run_job, name, kwargs, **options)

    def run_periodic_due(self, state: dict, now: float | None = None) -> list[str]:
        """Enqueue each periodic job whose interval has passed (called by ``mallow worker``);
        a Redis key per job keeps several workers from enqueuing the same run."""
        now = now or time.time()
        fired = []
        for name, every in periodic_jobs().items():
            if now - state.get(name, 0) < every:
                continue
            slot = int(now // every)
            if self.redis.set(f"mallow:periodic:{self.queue.name}:{name}:{slot}", 1, nx=True, ex=int(every) + 60):
                self.enqueue(name)
                fired.append(name)
            state[name] = now
        return fired

    def close(self):
        self.redis.close()


class EmbeddedRunner:
    """Runs jobs on one background thread of this process; periodic jobs included.

    Queued jobs live in memory: they are lost if the process stops. Everything Mallow must not
    lose is a database state swept by a periodic job (e.g. unpaid orders past their time), so a
    restart only delays it. Use Redis (``REDIS_URL``) for durable, multi-process queues.
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

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="mallow-jobs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()

    def run_pending(self, now: float | None = None) -> int:
        """Run every job due by ``now`` (periodic ones included) in this thread."""
        now = now or time.time()
        for name, every in periodic_jobs().items():
            if now - self._last_periodic.get(name, 0) >= every:
                self._last_periodic[name] = now
                self.enqueue(name)
        ran = 0
        while True:
            with self._cv:
                if not self._queue or self._queue[0][0] > now:
                    return ran
                _, _, name, kwargs = heapq.heappop(self._queue)
            self._run(name, kwargs)
            ran += 1

    def _run(self, name, kwargs):
        try:
            execute(self.app, name, kwargs)
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


def make_runner(app):
    url = app.config.get("REDIS_URL")
    return RqRunner(app, url) if url else EmbeddedRunner(app)
