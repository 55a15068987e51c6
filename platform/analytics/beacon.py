"""The view beacon: ``/s/<store>/a/b?p=<path>`` (GET, or POST from ``navigator.sendBeacon``)
answers 204 with no body, no session write and no query: it appends the view to the buffer.
:func:`beacon_lane` (a lane of :mod:`mallow.edge.lanes`: the front door offers it for an open
store this process knows under its stamp) answers it without Flask; anything else (an unknown
store, a bad path) goes on to the Flask route below, which resolves the store or answers 400.
The storefront's pages load ``static/storefront/analytics.js`` (in the head of the theme's
storefront layout, so also in the kept copies the front door serves), which sets the
first-party visitor cookie and calls the beacon once per page shown."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Response, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.http import parse_cookie

from mallow.analytics.recording import record_view
from mallow.edge import lanes
from mallow.extensions import csrf
from mallow.tenants.context import current_store
from mallow.web.assets import asset_url
from mallow.web.blueprints import storefront as bp

SCRIPT = "analytics.js"
_NO_SCRIPT_BLUEPRINTS = ("console", "admin", "payments")
BEACON = "/a/b"
MAX_PATH = 1000
#: the script's address and the beacon's per store (made once per process: url_for and the
#: asset's hash cost ~60 µs)
_TAGS: dict[str, dict] = {}


def beacon_lane(app, environ, snapshot, _args):
    """The beacon's lane (:mod:`mallow.edge.lanes`): the front door offers it for an open store it
    knows under its stamp; a bad ``p`` gives way to the route below (400 with the field error)."""
    page = next((v for k, v in parse_qsl(environ.get("QUERY_STRING", "")) if k == "p"), "")
    if not page.startswith("/") or len(page) > MAX_PATH:
        return None
    record_view(app, snapshot.id, page, parse_cookie(environ.get("HTTP_COOKIE", "")))
    return 204, [], b""


def install_lane(app) -> None:
    """Answer the beacon before Flask, on the core's lanes (GET, and POST from ``sendBeacon``)."""
    for method in ("GET", "POST"):
        lanes.register(app, method, BEACON, beacon_lane)


@bp.route(BEACON, methods=["GET", "POST"])
@csrf.exempt
def analytics_beacon():
    path = request.args.get("p", "")
    if not path.startswith("/") or len(path) > MAX_PATH:
        return jsonify({"errors": {"p": _("Give the path of the page shown.")}}), 400
    store = current_store()
    record_view(current_app, store.id, path, request.cookies)
    return Response(status=204)


def analytics_script() -> dict | None:
    """``{"src", "url"}`` of the beacon's script for the storefront page being drawn (the theme's
    ``storefront/base.html`` puts it in the head), or None outside a store's storefront."""
    store = current_store()
    if store is None or (request.blueprint or "").startswith(_NO_SCRIPT_BLUEPRINTS):
        return None
    found = _TAGS.get(store.slug)
    if found is None:
        if len(_TAGS) > 20_000:
            _TAGS.clear()
        found = _TAGS[store.slug] = {"src": asset_url(SCRIPT), "url": url_for("storefront.analytics_beacon")}
    return found
