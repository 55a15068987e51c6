"""Early answers: a plugin answers some of its own routes before Flask dispatches the request.

A crowd hammering one URL (a flash sale's buy button once the units are gone) should cost what
a bare WSGI app costs, not a request context, a session, the ORM and the store's hooks. A plugin
names such routes through ``mallow_early_routes`` (:mod:`mallow.plugins.hookspecs`); the WSGI
front door, once it knows the request's store from its per-process cache, calls
:func:`early_answer`. The answer is the plugin handler's :class:`EarlyAnswer` as JSON, or None:
the request goes on to Flask and the normal route, which must give the same answer.

What keeps this safe without Flask around it:

* one werkzeug ``Map`` of every loaded plugin's early routes, built once per app (:func:`install`,
  or on first use); a rule outside the plugin's own public prefixes (``/x/<plugin>/``,
  ``/api/x/<plugin>/``) is refused at build time and logged: a plugin answers only for itself,
  never for the console (no session here, so no staff check);
* a handler runs only when its plugin is enabled in the store and the store is open;
* it runs as the plugin (:func:`~mallow.plugins.acting.acting_as`), timed (the plugin timings
  of the admin faults page, hook name ``mallow_early_routes``) and blamed like a hook
  (:mod:`mallow.plugins.breaker`): one that raises or answers something else than an
  :class:`EarlyAnswer` or None is logged, counted as a strike, and the request goes on to the
  normal route. Its wall time goes into the timings; it is a strike only when its thread spent
  :data:`~mallow.plugins.budgets.BREAKER_FACTOR` times :data:`ANSWER_BUDGET_MS` of *CPU time*
  (``time.thread_time``): under a stampede a thread waits for the GIL and the CPU far longer
  than the answer takes, which is nobody's fault, and a fault written per slow call would put
  the database (and the breaker, switching the sale off mid-sale) on the very path meant to
  spare them. The app context is pushed only to record a fault, never on the answering path;
* the body is read only for a matched route, at most :data:`MAX_BODY` bytes with a
  Content-Length, and put back into ``environ`` so the normal route reads it again.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import EnvironHeaders, MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.http import dump_cookie, parse_cookie
from werkzeug.routing import Map, MapAdapter, Rule

from mallow.extensions import choose_locale
from mallow.plugins import breaker, budgets, timings
from mallow.plugins.acting import acting_as
from mallow.plugins.guard import PREFIX, impl_name

log = logging.getLogger("mallow.plugins")

HOOK = "mallow_early_routes"
#: what one early answer may take (milliseconds, scaled by ``MALLOW_PLUGIN_BUDGET_SCALE``): it
#: answers from memory, so a few milliseconds means it is doing a request's work in the wrong place
ANSWER_BUDGET_MS = 10
#: the largest body an early route is offered (bigger ones go to the normal route)
MAX_BODY = 64 * 1024
_KEY = "mallow.early_routes"
_JSON_KEY = "mallow.early_routes.json"
#: (supported locales, ?lang, lang cookie, Accept-Language) -> the locale chosen (bounded)
_LOCALES: dict[tuple, str] = {}
#: how many (method, path) matches each app remembers (a crowd hits a few URLs)
MATCHES = 4096


@dataclass(frozen=True)
class EarlyAnswer:
    """What a plugin's early handler answers: ``body`` is sent as JSON with ``status``, plus
    ``headers`` (e.g. ``(("Retry-After", "1"),)``)."""

    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class EarlyRequest:
    """The request as an early handler sees it: plain values, nothing of Flask's session or the
    ORM. ``path`` is inside the store (``/api/x/…``); ``args`` are the rule's matched values."""

    store_id: int
    store_slug: str
    method: str
    path: str
    args: dict[str, Any]
    headers: EnvironHeaders
    remote_addr: str | None
    body: bytes
    environ: dict = field(repr=False)
    _locales: tuple[tuple[str, ...], str] = field(repr=False, default=((), ""))

    @cached_property
    def query(self) -> MultiDict:
        return MultiDict(parse_qsl(self.environ.get("QUERY_STRING", ""), keep_blank_values=True))

    @cached_property
    def cookies(self) -> dict[str, str]:
        return parse_cookie(self.environ)

    @cached_property
    def locale(self) -> str:
        """The locale the normal route would answer in (:func:`mallow.extensions.choose_locale`),
        remembered per (``?lang``, ``lang`` cookie, ``Accept-Language``): a crowd sends a few."""
        asked = self.query.get("lang") if self.environ.get("QUERY_STRING") else None
        cookie = self.cookies.get("lang") if self.environ.get("HTTP_COOKIE") else None
        key = (asked, cookie, self.environ.get("HTTP_ACCEPT_LANGUAGE"))
        found = _LOCALES.get((self._locales, *key))
        if found is None:
            if len(_LOCALES) > 1024:
                _LOCALES.clear()
            supported, default = self._locales
            found = _LOCALES[(self._locales, *key)] = choose_locale(supported, default, *key)
        return found


@dataclass
class EarlyRoutes:
    """The early routes of one app: the bound map and, per endpoint, ``(plugin, handler)``."""

    adapter: MapAdapter | None
    handlers: list[tuple[str, Callable[[EarlyRequest], EarlyAnswer | None]]]
    locales: tuple[tuple[str, ...], str]
    budget_ms: float
    #: (method, in-store path) -> (endpoint, args), or None when no early route matches
    matches: dict = field(default_factory=dict)

    def match(self, path: str, method: str):
        key = (method, path)
        try:
            return self.matches[key]
        except KeyError:
            pass
        try:
            found = self.adapter.match(path, method=method)
        except HTTPException:  # not an early route (404, 405, a redirect): the normal route decides
            found = None
        if len(self.matches) >= MATCHES:
            self.matches.clear()
        self.matches[key] = found
        return found


def _own_prefixes(plugin: str) -> tuple[str, ...]:
    return (f"/x/{plugin}/", f"/api/x/{plugin}/")


def _plugin_routes(plugin: str, impl) -> list[tuple[str, str, Callable]]:
    """The plugin's early routes, checked; a plugin whose hook raises or answers nonsense gets
    none (logged and blamed), the others are not affected."""
    try:
        with acting_as(plugin):
            found = impl.function()
        routes = []
        for method, rule, handler in found or ():
            if not isinstance(rule, str) or not rule.startswith(_own_prefixes(plugin)):
                raise ValueError(f"early route {rule!r} is outside the plugin's own prefixes {_own_prefixes(plugin)}")
            if not callable(handler):
                raise ValueError(f"early route {rule!r}: the handler {handler!r} cannot be called")
            routes.append((str(method).upper(), rule, handler))
        return routes
    except Exception as error:
        log.error("plugin %s: its early routes are left out", plugin, exc_info=error)
        breaker.fault(None, plugin, HOOK, "error", f"{type(error).__name__}: {error}", 0.0, strike=False)
        return []


def install(app: Flask) -> EarlyRoutes:
    """Build the app's early routes from every loaded plugin (once at start-up, and again after
    the loaded plugins changed, e.g. a development-mode reload)."""
    with app.app_context():
        manager = app.extensions["mallow.plugins"]
        loaded = app.extensions.get("mallow.loaded_plugins", {})
        rules, handlers = [], []
        impls = sorted(getattr(manager.hook, HOOK).get_hookimpls(), key=lambda impl: impl.plugin_name)
        for impl in impls:
            plugin = impl_name(impl)
            if not impl.plugin_name.startswith(PREFIX) or plugin not in loaded:
                continue
            for method, rule, handler in _plugin_routes(plugin, impl):
                rules.append(Rule(rule, methods=[method], endpoint=len(handlers)))
                handlers.append((plugin, handler))
        budget = ANSWER_BUDGET_MS * budgets.scale()
    adapter = Map(rules, strict_slashes=False, merge_slashes=False).bind("localhost") if rules else None
    locales = (tuple(app.config["MALLOW_LOCALES"]), app.config["BABEL_DEFAULT_LOCALE"])
    routes = app.extensions[_KEY] = EarlyRoutes(adapter, handlers, locales, budget)
    return routes


def _in_store_path(path: str, slug: str) -> str | None:
    """``/s/<slug>/api/…`` → ``/api/…``; a path without ``/s/`` is the store's already (its own
    domain); another store's path is None."""
    if not path.startswith("/s/"):
        return path
    prefix = f"/s/{slug}"
    if path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return None


def _body(environ: dict) -> bytes | None:
    """The request's body (put back for the normal route), or None when it is not offered."""
    length = environ.get("CONTENT_LENGTH") or ""
    if not length:
        return None if environ.get("HTTP_TRANSFER_ENCODING") else b""
    try:
        size = int(length)
    except ValueError:
        return None
    if size < 0 or size > MAX_BODY:
        return None
    body = environ["wsgi.input"].read(size)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _blame(app: Flask, store_id: int, plugin: str, kind: str, message: str, ms: float, strike: bool = True) -> None:
    with app.app_context():
        breaker.fault(store_id, plugin, HOOK, kind, message, ms, strike=strike)


def _call(app: Flask, routes: EarlyRoutes, plugin: str, handler, request: EarlyRequest) -> EarlyAnswer | None:
    """The handler's answer, or None (no answer, or it failed: blamed on the plugin)."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        with acting_as(plugin):
            answer = handler(request)
    except SystemExit:
        raise
    except BaseException as error:  # a request thread must answer: the normal route will
        ms = (time.perf_counter() - started) * 1000
        log.error("plugin %s failed in an early answer (store %s)", plugin, request.store_id, exc_info=error)
        _blame(app, request.store_id, plugin, "error", f"{type(error).__name__}: {error}", ms)
        return None
    ms = (time.perf_counter() - started) * 1000
    timings.add(app, request.store_id, plugin, HOOK, ms)
    strike_ms = routes.budget_ms * budgets.BREAKER_FACTOR
    # a thread spends no more CPU than the wall time passing: the CPU clock (a system call) is read
    # again only for an answer slow enough to be over budget
    cpu_ms = (time.thread_time() - cpu_started) * 1000 if ms > strike_ms else 0.0
    if cpu_ms > strike_ms:  # merely over budget: counted in the timings
        message = f"took {cpu_ms:.0f} ms of CPU (budget {routes.budget_ms:.3g} ms)"
        log.warning("plugin %s %s in an early answer (store %s)", plugin, message, request.store_id)
        _blame(app, request.store_id, plugin, "over_budget", message, ms)
    if answer is not None and not isinstance(answer, EarlyAnswer):
        described = f"{type(answer).__name__} {repr(answer)[:80]}"
        log.error("plugin %s answered an early route with %s: left out", plugin, described)
        _blame(app, request.store_id, plugin, "bad_result", f"{described}; expected an EarlyAnswer", ms)
        return None
    return answer


def early_answer(app: Flask, environ: dict, store) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """``(status, headers, body)`` when a plugin enabled in ``store`` answers this request early,
    else None (dispatch it as usual). ``store`` is any object with ``id``, ``slug``, ``status``
    and ``enabled`` (the names of the plugins enabled in it); ``environ['PATH_INFO']`` is
    ``/s/<slug>/…`` (or the in-store path on the store's own domain)."""
    routes = app.extensions.get(_KEY) or install(app)
    if routes.adapter is None:
        return None
    path = _in_store_path(environ.get("PATH_INFO") or "/", store.slug)
    if path is None:
        return None
    method = environ.get("REQUEST_METHOD", "GET")
    matched = routes.match(path, method)
    if matched is None:
        return None
    endpoint, args = matched
    plugin, handler = routes.handlers[endpoint]
    if store.status != "open" or plugin not in store.enabled:
        return None
    body = _body(environ)
    if body is None:
        return None
    request = EarlyRequest(
        store_id=store.id,
        store_slug=store.slug,
        method=method,
        path=path,
        args=dict(args),  # the remembered match is shared: each request gets its own
        headers=EnvironHeaders(environ),
        remote_addr=environ.get("REMOTE_ADDR"),
        body=body,
        environ=environ,
        _locales=routes.locales,
    )
    answer = _call(app, routes, plugin, handler, request)
    if answer is None:
        return None
    return _encode(app, answer, request)


def _dumps(app: Flask, body: Any) -> str:
    """``app.json.dumps(body)`` compact, as ``jsonify`` writes it outside debug mode. Flask's own
    provider makes a ``json.JSONEncoder`` per call (``json.dumps`` with arguments does); the one
    made for the provider's settings is kept with them (in ``app.extensions``) and used while they
    hold: the same text, without an encoder made per answer."""
    provider = app.json
    if app.debug or type(provider) is not DefaultJSONProvider:
        compact = {} if app.debug else {"separators": (",", ":")}
        return provider.dumps(body, **compact)
    settings = (provider.default, provider.ensure_ascii, provider.sort_keys)
    kept = app.extensions.get(_JSON_KEY)
    if kept is None or kept[0] != settings:
        default, ensure_ascii, sort_keys = settings
        encoder = json.JSONEncoder(
            ensure_ascii=ensure_ascii, separators=(",", ":"), default=default, sort_keys=sort_keys
        )
        kept = app.extensions[_JSON_KEY] = (settings, encoder.encode)
    return kept[1](body)


def _encode(app: Flask, answer: EarlyAnswer, request: EarlyRequest) -> tuple[int, list[tuple[str, str]], bytes]:
    """JSON as ``jsonify`` writes it, with the headers every answer of the app carries
    (:func:`mallow.web.init_app`'s ``security_headers``, the ``lang`` cookie)."""
    data = (_dumps(app, answer.body) + "\n").encode()
    headers = [
        ("Content-Type", app.json.mimetype),
        ("Content-Length", str(len(data))),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        *answer.headers,
    ]
    lang = request.query.get("lang") if request.environ.get("QUERY_STRING") else None
    if lang in request._locales[0]:
        headers.append(("Set-Cookie", dump_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")))
    return answer.status, headers, data
