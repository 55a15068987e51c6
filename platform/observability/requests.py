"""The outermost WSGI middleware: a request id, the latency histogram and the access line for
every request, whoever answers it.

It wraps ``app.wsgi_app`` last (outside the subdomain rewrite and the front door,
:mod:`mallow.edge.door`), so the front door's answers (kept pages, core lanes, plugins' early
answers), given before Flask runs, are timed and logged like Flask's. The route label of such an
answer names its kind (``edge:page``, ``edge:early``, ``edge:lane``), and its store is the one of
its path (the door answers only for a store it knows); a Flask answer's route is its URL rule
(``/s/<store_slug>/api/orders/<int:order_id>``), ``(unmatched)`` when none matched.

The request id is an incoming ``X-Request-Id`` when it is well formed (1–128 of letters, digits
and ``._:-``: a proxy's ``$request_id``), else 32 new hex digits; it is in the WSGI environ
(``mallow.request_id``), on every log line of the request and on the response's ``X-Request-Id``.

The time measured is until the app returned its answer: the whole body of an ordinary response,
the headers of a streamed one (a chat's server-sent events).
"""

from __future__ import annotations

import logging
import os
import re
import time

from flask.globals import _cv_app, _cv_request

from mallow.observability import context, metrics

ENVIRON_KEY = "mallow.request_id"
HEADER = "X-Request-Id"
WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
EARLY_PREFIXES = ("/x/", "/api/x/")  # where plugins' early answers live (mallow.edge.door)

access_log = logging.getLogger("mallow.access")


def request_id_of(environ) -> str:
    incoming = environ.get("HTTP_X_REQUEST_ID")
    if incoming and WELL_FORMED.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex()


class Observed:
    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        info = context.RequestInfo(request_id_of(environ))
        environ[ENVIRON_KEY] = info.id
        token = context.begin(info)
        answered: list = []

        def start(status, headers, exc_info=None):
            answered[:] = [status, headers]
            return start_response(status, [*headers, (HEADER, info.id)], exc_info)

        try:
            result = self.wsgi_app(environ, start)
        except BaseException:
            self._done(environ, info, "500", None, time.perf_counter() - started)
            context.end(token)
            raise
        status, headers = answered if answered else ("200", None)
        self._done(environ, info, status, headers, time.perf_counter() - started)
        context.end(token)
        return result

    def _done(self, environ, info: context.RequestInfo, status: str, headers, seconds: float) -> None:
        if not info.flask:  # Flask never ran: the front door answered
            info.route = _door_route(environ, headers)
            info.store = info.store or _path_store(environ)
            if environ.get("mallow.edge.anonymous"):
                info.principal = "guest"
        route = info.route or "(unmatched)"
        method = environ.get("REQUEST_METHOD", "")
        metrics.observe_request(route, method, status, seconds)
        if self.app.config["MALLOW_ACCESS_LOG"] and access_log.isEnabledFor(logging.INFO):
            code = int(status[:3]) if status[:3].isdigit() else 0
            access_log.info(
                "%s %s %s",
                method,
                environ.get("PATH_INFO", ""),
                code,
                extra={
                    "method": method,
                    "path": environ.get("PATH_INFO", ""),
                    "route": route,
                    "status": code,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )


def _door_route(environ, headers) -> str:
    if headers and any(name == "X-Mallow-Cache" for name, _ in headers):
        return "edge:page"
    path = environ.get("PATH_INFO", "")
    slash = path.find("/", 3)
    if path.startswith("/s/") and slash > 0 and path[slash:].startswith(EARLY_PREFIXES):
        return "edge:early"
    return "edge:lane" if path.startswith("/s/") else "(unmatched)"


def _path_store(environ) -> str | None:
    path = environ.get("PATH_INFO", "")
    if not path.startswith("/s/"):
        return None
    return path[3:].split("/", 1)[0] or None


def _remember_in_teardown(_error=None) -> None:
    """What only Flask knows, kept before its context goes: the route, the store, the principal
    (read from the request's own context and ``g``, as :mod:`.context` reads them)."""
    info = context.current()
    if info is None:
        return
    info.flask = True
    ctx, app_ctx = _cv_request.get(None), _cv_app.get(None)
    rule = ctx.request.url_rule if ctx is not None else None
    info.route = rule.rule if rule is not None else None
    found = app_ctx.g.__dict__ if app_ctx is not None else {}
    info.store = found.get("mallow_store_slug")
    info.principal = context.principal_of(found.get("mallow_principals")) if ctx is not None else None


def install(app) -> None:
    app.teardown_request(_remember_in_teardown)
    app.wsgi_app = Observed(app, app.wsgi_app)
