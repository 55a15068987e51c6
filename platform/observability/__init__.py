"""Observability: what an operator sees of a running Mallow.

* :mod:`.metrics`: the Prometheus instruments (standard ``prometheus_client``): request latency
  by route (the URL rule, never the store or the raw path), job failures and queue depth,
  payment-notification outcomes, cache hits and misses; and the text served at ``/metrics``
  (every gunicorn worker summed in multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``, which
  ``mallow serve --workers N`` sets up).
* :mod:`.requests`: the outermost WSGI middleware: a request id per request (an incoming
  well-formed ``X-Request-Id`` or a new one, echoed on the response), the latency histogram and
  the access log line, for Flask's answers and the front door's (:mod:`mallow.edge`) alike.
* :mod:`.logs`: one JSON object a line (``MALLOW_LOG_FORMAT=json``) with the request id, the
  store's slug and the principal's kind on every line.
* :mod:`.readiness`: ``/readyz``'s checks: the platform database, Redis, and what the app
  registers (the migration chains: :func:`mallow.app.create_app` registers that check, this
  package imports no domain).
* :mod:`.access`: who may read ``/metrics`` (a bearer token or an allowed address).

The package sits low in the layers (above the database, below tenancy) so that the domains
that record a figure (jobs, payments, the front door, tenancy's caches) can import it; it
imports nothing above :mod:`mallow.db`.
"""

from __future__ import annotations

from mallow.observability import logs, metrics, readiness, requests

__all__ = ["init_app"]


def init_app(app) -> None:
    """Wire observability into ``app``: call it last in ``create_app`` (the middleware must be
    the outermost: it sees every answer, the front door's too)."""
    logs.init_app(app)
    metrics.init_app(app)
    readiness.init_app(app)
    requests.install(app)
