"""The Prometheus instruments, and the text ``/metrics`` serves.

The instruments are the process's (``prometheus_client``'s default registry): request latency
by route, job failures, payment-notification outcomes, cache lookups. Recording one is a counter
increment or a histogram observation on a label set looked up once (the bound children are
kept), so the hot paths pay well under a microsecond (docs: bench figures in the operations
page). Labels are bounded by construction: a route is the URL rule (``/s/<store_slug>/…``),
never the raw path or the store; an unknown HTTP method is ``other``; a status is its class.

What is read at scrape time instead (it lives in Redis or in the app, not in a process) comes
from the app's own collectors (:class:`JobQueueCollector`): the job queue's depth and rq's failed
job registry.

Under gunicorn (``mallow serve --workers N``) each worker writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, chosen when the variable
is set before the first metric is made: ``mallow serve`` sets it before the workers start) and
``/metrics`` sums them, whichever worker answers.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("mallow.observability")

EXTENSION = "mallow.observability.metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: a cached page answers in well under a millisecond, a checkout in tens: finer low buckets
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_SECONDS = Histogram(
    "mallow_http_request_duration_seconds",
    "Time until the app returned its answer (a streamed body not included), by route, method and status class.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
JOB_FAILURES = Counter("mallow_job_failures", "Jobs that raised, by job name.", ["job"])
PAYMENT_NOTIFICATIONS = Counter(
    "mallow_payment_notifications",
    "Payment providers' notifications by outcome (accepted/rejected) and reason (paid, duplicate, refund, "
    "bad_signature, …).",
    ["provider", "outcome", "reason"],
)
CACHE_LOOKUPS = Counter("mallow_cache_lookups", "Cache lookups by cache and result (hit/miss).", ["cache", "result"])

_observers: dict[tuple[str, str, str], object] = {}


def observe_request(route: str, method: str, status: str, seconds: float) -> None:
    """One answered request (``status``: the status line or code; its class is the label)."""
    key = (route, method if method in METHODS else "other", status[:1] + "xx")
    child = _observers.get(key)
    if child is None:
        child = _observers[key] = REQUEST_SECONDS.labels(*key)
    child.observe(seconds)  # type: ignore[attr-defined]


def cache_counters(cache: str):
    """``(hit, miss)``: two functions that count one lookup of ``cache`` each (bound once)."""
    return CACHE_LOOKUPS.labels(cache, "hit").inc, CACHE_LOOKUPS.labels(cache, "miss").inc


@contextmanager
def counting_failures(job: str):
    """Count a failure of job ``job`` when the block raises (the exception goes on)."""
    try:
        yield
    except Exception:
        JOB_FAILURES.labels(job).inc()
        raise


def payment_notification(provider: str, accepted: bool, reason: str) -> None:
    """The outcome of one notification, as :func:`mallow.payments.notifications.log_notification`
    records it. A provider that does not exist is named in the URL by whoever posted: ``unknown``."""
    if reason == "provider_unavailable":
        provider = "unknown"
    reason = str(reason) or ("paid" if accepted else "rejected")
    PAYMENT_NOTIFICATIONS.labels(provider, "accepted" if accepted else "rejected", reason).inc()


class JobQueueCollector:
    """The app's job queue read at scrape time: ``mallow_job_queue_depth{queue,state}`` (rq: queued,
    scheduled, started, failed — the failed job registry, whichever process failed them;
    embedded: queued) and ``mallow_job_queue_up`` (0 when Redis did not answer)."""

    def __init__(self, app):
        self.app = app

    def describe(self):
        return []

    def collect(self):
        runner = self.app.extensions.get("mallow.jobs")
        depth = GaugeMetricFamily("mallow_job_queue_depth", "Jobs in the queue by state.", labels=["queue", "state"])
        up = GaugeMetricFamily("mallow_job_queue_up", "1 when the job queue answered the scrape.", labels=["runner"])
        if runner is None:
            return
        kind = getattr(runner, "kind", "unknown")
        try:
            if kind == "rq":
                queue = runner.queue
                for state, count in (
                    ("queued", queue.count),
                    ("scheduled", queue.scheduled_job_registry.count),
                    ("started", queue.started_job_registry.count),
                    ("failed", queue.failed_job_registry.count),
                ):
                    depth.add_metric([queue.name, state], count)
            else:  # the embedded runner: jobs waiting in this process's memory
                depth.add_metric(["embedded", "queued"], len(getattr(runner, "_queue", ())))
        except Exception as error:  # noqa: BLE001 -- Redis away: the scrape still answers, saying so
            log.warning("metrics: the job queue did not answer: %s", type(error).__name__)
            up.add_metric([kind], 0)
            yield up
            return
        up.add_metric([kind], 1)
        yield depth
        yield up


def init_app(app) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobQueueCollector(app))
    app.extensions[EXTENSION] = registry


def exposition(app) -> bytes:
    """The text of ``/metrics``: the process's instruments (every worker's, summed, in
    multiprocess mode) and the app's collectors."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(app.extensions[EXTENSION])
