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

A failure that running the job again cannot mend (:class:`~mallow.jobs.registry.PermanentJobError`:
no such job, no store, a store that is gone, arguments the job does not take) is not retried,
even for an idempotent job, and is logged once. Other failures of idempotent jobs are still retried.
"""

from __future__ import annotations

import logging

from rq import SimpleWorker, Worker
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker.base import WorkerStatus

from mallow.jobs.registry import PermanentJobError, jobs_of
from mallow.jobs.runners import run_job, worker_app

log = logging.getLogger("mallow.jobs")

#: the only function a Mallow worker calls (what :class:`~mallow.jobs.runners.RqRunner` queues)
RUN_JOB = "mallow.jobs.runners.run_job"


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
        super().__init__(names, *args, connection=connection, **kwargs)

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
