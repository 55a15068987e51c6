"""The web foundation: error pages, security headers, template helpers (JSON for a ``<script>``
element), form rendering, and the shared page areas (:mod:`.blueprints`). The app factory
registers the blueprints."""

from __future__ import annotations

import json

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from mallow.validation import ValidationFailed
from mallow.web import busy
from mallow.web.redirects import here, safe_next, safe_target  # noqa: F401  (the one redirect check, re-exported)

CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; media-src 'self' https:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'"
)


#: what every answer carries unless its view set its own (the last two on HTML pages only):
#: ``(name, name in lower case, value)``, in the order they are added
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "x-content-type-options", "nosniff"),
    ("Referrer-Policy", "referrer-policy", "same-origin"),
    ("Content-Security-Policy", "content-security-policy", CSP),
    ("X-Frame-Options", "x-frame-options", "SAMEORIGIN"),
)
#: the form data of a request that has no body to parse (what werkzeug would make for it)
_NO_FORM = ImmutableMultiDict()


def _form():
    """``request.form`` for the templates: as parsed when it has been; a request werkzeug would
    not parse (no ``Content-Type``: a ``GET``) has no form data, so it is the empty form without
    setting the parse up (its input stream, two empty dicts) for a page that may not read it."""
    current = request._get_current_object()
    found = current.__dict__.get("form")
    if found is not None:
        return found
    return current.form if current.want_form_data_parsed else _NO_FORM


def init_app(app: Flask) -> None:
    from mallow.web.sessions import CookieSessionInterface

    app.session_interface = CookieSessionInterface()  # Flask's, minus its cost when there is no cookie
    _remember_sync_functions(app)

    @app.context_processor
    def helpers():
        return {"locale": str(get_locale()), "field_error": _field_error, "form": _form(), "here": here}

    @app.after_request
    def security_headers(response):
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        html = response.mimetype == "text/html"
        for name, lowered, value in SECURITY_HEADERS if html else SECURITY_HEADERS[:2]:
            if lowered not in present:
                headers.add(name, value)
        if request.environ.get("QUERY_STRING"):  # ?lang= sets the language's cookie
            asked = request.args.getlist("lang")
            if asked and asked[0] in app.config["MALLOW_LOCALES"]:
                response.set_cookie("lang", asked[0], max_age=365 * 86400, samesite="Lax")
        return response

    for code in (400, 403, 404, 405, 413, 429, 500, 503):
        app.register_error_handler(code, _error_page)
    app.register_error_handler(CSRFError, _csrf_error)
    busy.install(app, _error_page)  # a busy database: 503 "try again", never a 500


#: at most this many plain functions are remembered as such (hooks and views: a few hundred)
SYNC_FUNCTIONS_KEPT = 4096


def _remember_sync_functions(app: Flask) -> None:
    """Flask hands every hook and view to ``ensure_sync`` on every request, which asks
    ``inspect.iscoroutinefunction`` each time (about 15 times a request). The answer for a plain
    function never changes: it is remembered, and the function returned as Flask returns it.
    Anything else (a coroutine function, a callable that cannot be hashed) goes to Flask's own."""
    known: set = set()
    flask_ensure_sync = app.ensure_sync

    def ensure_sync(func):
        try:
            if func in known:
                return func
        except TypeError:  # unhashable: not remembered
            return flask_ensure_sync(func)
        answer = flask_ensure_sync(func)
        if answer is func and len(known) < SYNC_FUNCTIONS_KEPT:
            known.add(func)
        return answer

    app.ensure_sync = ensure_sync  # type: ignore[method-assign]


def _field_error(field: str):
    errors = g.get("form_errors") or {}
    found = errors.get(field)
    return found[1] if found else None


def render_form(template: str, status: int = 200, errors: ValidationFailed | None = None, **context):
    """Render a form page; with ``errors`` the page shows every field's message (HTTP 422)."""
    if errors is not None:
        g.form_errors = errors.errors
        status = 422
    return render_template(template, form=request.form, **context), status


_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_for_script(data) -> Markup:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>``, ``&``, ``'`` and
    U+2028/U+2029 are written as ``\\u`` escapes, so ``</script>`` in any text cannot end it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return Markup("".join(_SCRIPT_ESCAPES.get(ch, ch) for ch in text))


def is_api_request() -> bool:
    """This request is for the JSON API (``/api/…``, ``/s/<slug>/api/…``, the developers'
    ``/dev/api/…``, or a blueprint named ``…api``): it gets JSON errors and bearer-token rules."""
    if request.blueprint:
        return request.blueprint.split(".")[0].endswith("api")
    path = request.path  # no route matched: judge by the URL
    return path.startswith(("/api/", "/dev/api/")) or (path.startswith("/s/") and path.split("/", 4)[3:4] == ["api"])


def _wants_json() -> bool:
    return is_api_request() or request.accept_mimetypes.best == "application/json"


def _error_page(error):
    if isinstance(error, MethodNotAllowed):
        error = _method_not_allowed(error)
    code = getattr(error, "code", 500) or 500
    # the exception's own headers stay (a 405's Allow, a 401's WWW-Authenticate…), not its body's
    headers = (
        [(k, v) for k, v in error.get_headers() if k.lower() not in ("content-type", "content-length")]
        if isinstance(error, HTTPException)
        else []
    )
    if _wants_json():
        return jsonify(error=_error_name(code), message=getattr(error, "description", "")), code, headers
    return render_template("errors/error.html", code=code), code, headers


def _method_not_allowed(error: MethodNotAllowed) -> HTTPException:
    """A 405 only when another method of this very URL is answered, with exactly those in
    ``Allow``. Werkzeug also answers 405 when a converter refused the value for the method asked
    (an id out of range: ``DELETE …/categories/0``) and lists the methods of the sibling rules,
    which refuse it too: no method answers that URL, so it is a 404."""
    adapter, allowed = current_app.create_url_adapter(request), []
    for method in error.valid_methods or ():
        try:
            adapter.match(method=method)
        except HTTPException:
            continue
        allowed.append(method)
    return MethodNotAllowed(valid_methods=allowed) if adapter is None or allowed else NotFound()


def _csrf_error(error):
    if _wants_json():
        return jsonify(error="csrf_failed", message=error.description), 400
    return render_template("errors/error.html", code=400, csrf=True), 400


def _error_name(code: int) -> str:
    return {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
        422: "validation_failed",
        429: "rate_limited",
        503: "busy",
    }.get(code, "server_error")
