"""The platform's own pages: landing page and language switch; and the operator's probes:
``/healthz`` (the process answers), ``/readyz`` (it can serve: database, Redis, migrations) and
``/metrics`` (Prometheus, for the operator only: :mod:`mallow.observability.access`)."""

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request

from mallow.observability import access, metrics, readiness
from mallow.web import safe_next

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/lang/<code>")
def switch_language(code):
    response = redirect(safe_next("/"))
    if code in ("zh_CN", "en"):
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax")
    return response


@bp.get("/healthz")
def health():
    """The process is alive and answers: nothing else is asked (a load balancer's liveness probe)."""
    return {"ok": True}


@bp.get("/readyz")
def ready():
    """200 when every readiness check passes, else 503; the body names each check and its detail."""
    ok, checks = readiness.run(current_app)
    failing = [name for name, result in checks.items() if not result["ok"]]
    response = jsonify(ready=ok, failing=failing, checks=checks)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics_text():
    """Prometheus' text format, for the operator only; anyone else gets the ordinary 404."""
    if not access.may_read_metrics(current_app, request.environ, request.headers.get("Authorization")):
        abort(404)
    response = current_app.response_class(metrics.exposition(current_app), mimetype=None)
    response.headers["Content-Type"] = metrics.CONTENT_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response
