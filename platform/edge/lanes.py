"""Lanes: the happy path of a core API operation, answered at the front door before Flask.

A cart write through Flask pays the request context, the session, the routing, the registry's
checks, the ORM session and its transaction around one statement: more than the statement. A
**lane** is the core's counterpart of a plugin's early answer (:mod:`mallow.plugins.early`): a
handler the front door (:mod:`mallow.edge.door`) offers a request of a declared operation, for a
store it knows under its current stamp, before kept pages and before Flask. The handler answers
the operation's *happy path* with the very bytes and headers Flask's route would send, or None:
then the request goes on to Flask unchanged (its body put back), and Flask's route is the one
place that writes errors (401, 400, 422 with field errors, 429…).

The contract a handler keeps (``tests/edge/test_cart_lane.py`` sends the same requests with the
lanes on and off and compares the answers byte for byte):

* it answers only what it can prove is the route's answer: its principal from memory (no
  statement), its body valid for the operation's schema, a store that is open, no rate limit
  that applies to the route (:func:`limits_apply`); anything else, and any exception, is None;
* a refusal leaves nothing behind: what it wrote is rolled back, or is a write that Flask's
  route repeats to the same state and the same answer (setting a quantity is; adding to one is not);
* no request context is pushed on the way (an app context is, for the store's hooks).

Rules are werkzeug rules inside the store (``PUT /api/cart/items/<int:sku_id>``), with the app's
own converters (an ``int`` is a bounded id as in Flask's map); the match of a ``(method, path)``
is remembered (bounded). ``MALLOW_LANES`` (on by default) switches every lane off.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, MapAdapter, Rule

from mallow.extensions import limiter
from mallow.validation import schema_check

log = logging.getLogger("mallow.edge")

EXTENSION = "mallow.lanes"
#: the largest body a lane is offered (a bigger one goes to Flask, which applies its own limit)
MAX_BODY = 16 * 1024
#: (method, in-store path) matches remembered per app (a crowd writes to a few URLs)
MATCHES = 4096

#: ``handler(app, environ, snapshot, args)`` → ``(status, headers, body)`` or None
Handler = Callable[[object, dict, object, dict], "tuple[int, list[tuple[str, str]], bytes] | None"]


@dataclass
class Lanes:
    """One app's lanes: the rules, their handlers, and the remembered matches."""

    url_map: Map
    handlers: list[Handler] = field(default_factory=list)
    methods: frozenset[str] = frozenset()
    adapter: MapAdapter | None = None
    #: (method, in-store path) -> (handler index, args), or None when no lane has it
    matches: dict = field(default_factory=dict)

    def add(self, method: str, rule: str, handler: Handler) -> None:
        method = method.upper()
        self.url_map.add(Rule(rule, methods=[method], endpoint=len(self.handlers)))
        self.handlers.append(handler)
        self.methods = self.methods | {method}
        self.adapter = self.url_map.bind("localhost")
        self.matches.clear()

    def match(self, method: str, path: str):
        key = (method, path)
        try:
            return self.matches[key]
        except KeyError:
            pass
        try:
            found = self.adapter.match(path, method=method) if self.adapter is not None else None
        except HTTPException:  # no lane (404, 405) or a redirect (a trailing slash): Flask decides
            found = None
        if len(self.matches) >= MATCHES:
            self.matches.clear()
        self.matches[key] = found
        return found


def lanes_of(app) -> Lanes:
    lanes = app.extensions.get(EXTENSION)
    if lanes is None:
        url_map = Map(
            converters=dict(app.url_map.converters),  # the app's (a bounded id for int)
            strict_slashes=app.url_map.strict_slashes,
            merge_slashes=app.url_map.merge_slashes,
        )
        lanes = app.extensions[EXTENSION] = Lanes(url_map)
    return lanes


def register(app, method: str, rule: str, handler: Handler) -> None:
    """Offer ``method`` requests for ``rule`` (a werkzeug rule inside the store, e.g.
    ``/api/cart/items/<int:sku_id>``) to ``handler`` before Flask."""
    lanes_of(app).add(method, rule, handler)


def answer(app, environ: dict, snapshot, path: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """A lane's ``(status, headers, body)`` for this request to the store of ``snapshot`` (its
    in-store ``path``), or None: Flask answers. The door asks only for an open store it knows
    under its current stamp."""
    lanes = app.extensions.get(EXTENSION)
    method = environ.get("REQUEST_METHOD", "GET")
    if lanes is None or method not in lanes.methods or not app.config.get("MALLOW_LANES", True):
        return None
    if snapshot.status != "open":  # awaiting approval, suspended, closed: Flask says what
        return None
    matched = lanes.match(method, path)
    if matched is None:
        return None
    endpoint, args = matched
    try:
        return lanes.handlers[endpoint](app, environ, snapshot, args)
    except Exception:  # noqa: BLE001 -- the lane gives way: Flask answers, and says what went wrong
        log.warning("lane %s %s gave way to the app after an error", method, path, exc_info=True)
        return None


def body_check(schema: dict) -> Callable[[object], bool]:
    """Whether a parsed JSON body is valid for ``schema``, compiled once: plain comparisons for
    what the API's write bodies use, ``jsonschema`` for the rest
    (:func:`mallow.validation.schema_check`)."""
    return schema_check(schema)


def limits_apply(route_limited: bool) -> bool:
    """Whether Flask would check a rate limit for a route (``route_limited``: the view carries
    one) or before every view (default, application or blueprint limits, the fallback while the
    limits' storage is down): then a lane gives way, and Flask counts and answers 429."""
    return route_limited or limiter._applies_before_views()


def read_body(environ: dict, limit: int = MAX_BODY) -> bytes | None:
    """The request's body, put back into ``environ`` for Flask; None when it is not offered
    (no Content-Length, a chunked body, more than ``limit`` bytes)."""
    length = environ.get("CONTENT_LENGTH") or ""
    try:
        size = int(length)
    except ValueError:
        return None
    if size < 0 or size > limit or environ.get("HTTP_TRANSFER_ENCODING"):
        return None
    body = environ["wsgi.input"].read(size) if size else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def json_answer(app, status: int, data, headers: tuple[tuple[str, str], ...] = ()):
    """``data`` as Flask's ``jsonify`` writes it (the app's JSON provider: sorted keys, compact
    unless debugging, a newline), with the headers every JSON answer of the app carries
    (:func:`mallow.web.init_app`'s ``security_headers``) and ``headers``."""
    compact = {} if app.debug else {"separators": (",", ":")}
    body = (app.json.dumps(data, **compact) + "\n").encode()
    return (
        status,
        [
            ("Content-Type", app.json.mimetype),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            *headers,
        ],
        body,
    )
