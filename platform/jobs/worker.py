"""What ``mallow worker`` runs: an rq worker that runs Mallow's registered jobs and nothing else.

rq finds a job's function by importing whatever dotted name the job's data carries (``Job.func``),
and its success, failure and stopped callbacks the same way, so anyone who can write to the Redis
database could run code in a stock worker. The Redis database is therefore not trusted.

Every job Mallow queues is ``mallow.jobs.runners.run_job(name, kwargs)``, serialised as JSON, and
``name`` is a job in the job registry of the worker's app (:func:`~mallow.jobs.runners.serve_with`).
:class:`MallowJob` reads a job's data as JSON only, checks it against that one shape and that
registry, and then hands back
:func:`~mallow.jobs.runners.run_job` itself. It imports no name taken from the job. Its callbacks
are always none, and it sends no webhooks. :class:`MallowWorker` checks each job before it forks a
work horse. A job that fails the check is refused: nothing runs, it goes straight to the failed
registry with the reason, and a warning names its id and what it asked for.

A job whose worker died under it (SIGKILL, the machine gone) would stay in rq's started registry
until its heartbeat lapsed and then be retried after the retry's delay. :func:`requeue_abandoned`
runs in every maintenance pass of a Mallow worker, the first one at its start: a job whose worker
is gone (its key expired), is on this host with no such process any more, or has not sent a
heartbeat for ``MALLOW_JOB_ABANDONED_SECONDS`` (default 90; also how often the maintenance runs)
goes back to the front of its queue at once when it may run again (an idempotent job, with
retries left), else to the failed registry, as rq would.

A failure that running the job again cannot mend (:class:`~mallow.jobs.registry.PermanentJobError`:
no such job, no store, a store that is gone, arguments the job does not take) is not retried,
even for an idempotent job, and is logged once. Other failures of idempotent jobs are still retried.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, UTC

from rq import SimpleWorker, Worker
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.job_lifecycle import call_exception_handlers, record_job_failure
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker.base import WorkerStatus

from mallow.jobs.registry import PermanentJobError, jobs_of
from mallow.jobs.runners import run_job, worker_app

log = logging.getLogger("mallow.jobs")

#: the only function a Mallow worker calls (what :class:`~mallow.jobs.runners.RqRunner` queues)
RUN_JOB = "mallow.jobs.runners.run_job"

#: a worker silent for this long has died: its jobs are requeued (``MALLOW_JOB_ABANDONED_SECONDS``)
ABANDONED_SECONDS = 90.0


class RefusedJob(PermanentJobError):
    """The job is not one Mallow queued: another function, unreadable data, bad arguments."""


def asked_for(job: Job) -> str:
    """What a job asks for, for the log. Its data is read as JSON and shortened, and nothing in it
    is imported."""
    try:
        text = f"{job.func_name!r}(*{job.args!r}, **{job.kwargs!r})"  # repr: no line breaks from Redis
    except DeserializationError:
        try:
            text = f"data that is not JSON: {bytes(job.data[:80])!r}"
        except Exception:  # noqa: BLE001 -- nothing readable at all
            text = "unreadable data"
    extras = [
        f"{kind} callback {name!r}"
        for kind, name in (
            ("success", job._success_callback_name),
            ("failure", job._failure_callback_name),
            ("stopped", job._stopped_callback_name),
        )
        if name
    ]
    extras += [f"webhook {hook.url!r}" for hook in job.webhooks]
    if extras:
        text += " with " + ", ".join(extras)
    return text if len(text) <= 400 else text[:397] + "..."


class MallowJob(Job):
    """An rq job that resolves to :func:`~mallow.jobs.runners.run_job` or to nothing."""

    #: why this job can never succeed (set when it is refused or raised a PermanentJobError)
    permanent_failure: str | None = None

    def refusal(self) -> str | None:
        """Why this is not a job Mallow queued, or None when it is. Reads the data as JSON (the
        serializer the worker forces) and looks the name up in the job registry of the worker's app.
        Imports nothing."""
        try:
            func_name, instance, args, kwargs = self.func_name, self.instance, self.args, self.kwargs
        except DeserializationError:
            return "its data is not a JSON job"
        if func_name != RUN_JOB or instance is not None:
            return f"it names {func_name!r}; a Mallow worker runs only {RUN_JOB}"
        if kwargs or not isinstance(args, (list, tuple)) or len(args) != 2 or not isinstance(args[1], dict):
            return "its arguments are not (job name, keyword arguments)"
        if self._success_callback_name or self._failure_callback_name or self._stopped_callback_name or self.webhooks:
            return "it asks for callbacks or webhooks, which Mallow never sets"
        try:
            jobs_of(worker_app()).check_call(args[0], args[1])
        except PermanentJobError as exc:
            return str(exc)
        except RuntimeError as exc:  # no app in this process: nothing is a job it may run
            return str(exc)
        return None

    @property
    def func(self):
        reason = self.refusal()
        if reason is not None:
            raise RefusedJob(reason)
        return run_job

    # Mallow sets no callbacks, so the names rq would import are never read, and it sets no
    # webhooks, so a URL written into Redis gets no request.
    @property
    def success_callback(self):
        return None

    @property
    def failure_callback(self):
        return None

    @property
    def stopped_callback(self):
        return None

    def send_webhooks(self, status, *, exc_string=None) -> None:
        return None

    def perform(self):
        try:
            return super().perform()
        except PermanentJobError as exc:
            self.permanent_failure = f"{type(exc).__name__}: {exc}"
            raise

    @property
    def should_retry(self) -> bool:
        return self.permanent_failure is None and super().should_retry


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def worker_is_dead(connection, worker_name: str, abandoned_after: float, at: datetime | None = None) -> bool:
    """Whether the rq worker ``worker_name`` is dead: its key is gone (it stopped heartbeating
    long ago), it ran on this host and no process has its pid any more, or its last heartbeat
    is older than ``abandoned_after`` seconds (a busy worker heartbeats while its job runs)."""
    fields = connection.hgetall(f"{Worker.redis_worker_namespace_prefix}{worker_name}")
    if not fields:
        return True
    found = {k.decode(): v.decode() for k, v in fields.items()}
    if found.get("death"):
        return True
    pid = found.get("pid") or ""
    if found.get("hostname") == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
        return True
    beat = found.get("last_heartbeat")
    if beat:
        try:
            last = datetime.fromisoformat(beat.replace("Z", "+00:00"))
        except ValueError:
            return False
        if last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        return ((at or datetime.now(UTC)) - last).total_seconds() > abandoned_after
    return False


def requeue_abandoned(queue: Queue, *, this_worker: str = "", abandoned_after: float = ABANDONED_SECONDS) -> list[str]:
    """Jobs of ``queue`` still marked started by a worker that died (:func:`worker_is_dead`):
    one that may run again (an idempotent job with retries left: it gives the same result) goes
    back to the front of the queue now, without the retry's delay (it did not fail, its worker
    did); any other goes to the failed registry, as rq's own cleanup would. Returns the ids of
    the jobs requeued. Several workers starting at once requeue a job once (a short lock)."""
    connection = queue.connection
    lock = f"mallow:requeue-abandoned:{queue.name}"
    if not connection.set(lock, this_worker or "-", nx=True, ex=30):
        return []
    requeued: list[str] = []
    try:
        registry = StartedJobRegistry(queue.name, connection=connection, job_class=MallowJob, serializer=JSONSerializer)
        verdicts: dict[str, bool] = {}
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            try:
                execution = Execution.fetch(execution_id, job_id, connection)
            except ValueError:  # the execution's hash expired: rq's own cleanup takes the entry
                continue
            worker = execution.worker_name
            if not worker or worker == this_worker:
                continue
            if worker not in verdicts:
                verdicts[worker] = worker_is_dead(connection, worker, abandoned_after)
            if not verdicts[worker]:
                continue
            try:
                found = MallowJob.fetch(job_id, connection=connection, serializer=JSONSerializer)
            except NoSuchJobError:
                with connection.pipeline() as pipe:
                    registry.remove_execution(execution, pipeline=pipe)
                    pipe.execute()
                continue
            with connection.pipeline() as pipe:
                execution.delete(found, pipe)
                if found.get_status(refresh=False) != JobStatus.STARTED:
                    pipe.execute()
                    continue
                if found.retries_left:
                    found.retries_left -= 1
                    queue._enqueue_job(found, pipeline=pipe, at_front=True)
                    requeued.append(found.id)
                    log.warning(
                        "job %s: its worker %s died while running it; queued again (%s retries left)",
                        found.id,
                        worker,
                        found.retries_left,
                    )
                else:
                    record_job_failure(found, f"AbandonedJobError: its worker {worker} died while running it", pipe)
                    log.warning("job %s: its worker %s died while running it; failed (not retried)", found.id, worker)
                pipe.execute()
    finally:
        connection.delete(lock)
    return requeued


#: seconds the worker's command listener (rq's pubsub thread) waits in one go: see
#: :meth:`_OnlyMallowJobs.subscribe`
LISTENER_WAIT_SECONDS = 1


class _OnlyMallowJobs:
    """Make the worker use :class:`MallowJob` and JSON for every queue and registry it touches,
    and refuse a job in the worker process itself, before anything runs or a work horse is forked."""

    def __init__(self, queues, *args, connection=None, **kwargs):
        queues = list(queues) if isinstance(queues, (list, tuple)) else [queues]
        if connection is None:
            connection = next(q.connection for q in queues if isinstance(q, Queue))
        # Queues given as objects keep their own job class, which rq also uses to clean the
        # registries (and a stock Job imports the failure callback of an abandoned job), so pass
        # them by name and let the worker build them.
        names = [q if isinstance(q, str) else q.name for q in queues]
        kwargs.update(job_class=MallowJob, serializer=JSONSerializer, queue_class=Queue)
        abandoned_after = kwargs.pop("abandoned_after", None)
        if abandoned_after is None:
            try:
                abandoned_after = worker_app().config.get("MALLOW_JOB_ABANDONED_SECONDS")
            except RuntimeError:  # no app in this process (a bare worker in a test)
                abandoned_after = None
        self.abandoned_after = float(abandoned_after or ABANDONED_SECONDS)
        # the maintenance (and the requeue of a dead worker's jobs) runs at least this often
        kwargs.setdefault("maintenance_interval", max(1, int(self.abandoned_after)))
        # a busy worker heartbeats this often (rq's default: 30 s), well within the bound above
        kwargs.setdefault("job_monitoring_interval", max(1, min(30, int(self.abandoned_after / 3))))
        super().__init__(names, *args, connection=connection, **kwargs)

    def subscribe(self):
        """rq's listener for worker commands (``rq`` sends ``kill-horse``, ``shutdown``… on the
        worker's channel), waiting :data:`LISTENER_WAIT_SECONDS` at a time instead of rq's 60.
        When the worker stops, rq unsubscribes, then stops the listener thread, which redis-py
        joins: a thread that went round its loop in between waits a whole wait for a
        subscription that never comes. With 60 s, stopping a worker (every ``burst`` run,
        every shutdown of ``mallow worker``) took a minute now and then under load."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=LISTENER_WAIT_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def clean_registries(self):
        """rq's maintenance, after giving the jobs of dead workers back (:func:`requeue_abandoned`);
        it runs at the worker's start, then every ``maintenance_interval``."""
        for queue in self.queues:
            try:
                requeue_abandoned(queue, this_worker=self.name, abandoned_after=self.abandoned_after)
            except Exception:  # noqa: BLE001 -- maintenance must not stop the worker; next pass tries again
                log.exception("could not requeue the jobs of dead workers on queue %s", queue.name)
        super().clean_registries()

    def execute_job(self, job, queue):
        reason = job.refusal() if isinstance(job, MallowJob) else "it is not a MallowJob"
        if reason is None:
            return super().execute_job(job, queue)
        job.permanent_failure = f"RefusedJob: {reason}"
        log.warning(
            "job %s refused, nothing was run and it will not be retried: %s; it asked for %s",
            job.id,
            reason,
            asked_for(job),
        )
        execution = self.prepare_execution(job)
        job.ended_at = now()
        self.handle_job_failure(job, queue, exc_string=job.permanent_failure, execution=execution)
        self.set_state(WorkerStatus.IDLE)

    def handle_exception(self, job, *exc_info):
        reason = getattr(job, "permanent_failure", None)
        if reason is None:
            return super().handle_exception(job, *exc_info)
        # One line, no traceback: the failed registry keeps the traceback.
        log.warning(
            "job %s failed for good and will not be retried: %s; it asked for %s", job.id, reason, asked_for(job)
        )
        call_exception_handlers(self._exc_handlers, job, *exc_info)


class MallowWorker(_OnlyMallowJobs, Worker):
    """``mallow worker``: each job runs in a forked work horse, as in rq's ``Worker``."""


class MallowSimpleWorker(_OnlyMallowJobs, SimpleWorker):
    """The same checks, with jobs run in this process (tests, systems without ``fork``)."""
