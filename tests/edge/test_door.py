"""The front door as a browser or an API client meets it (the whole WSGI app): a plugin's early
answer and a kept page are sent without Flask, with the status, headers and body the app would
give; what the door remembers between requests (the plugins a store has on, a visitor's decoded
session cookie) never outlives what it was read from."""

from __future__ import annotations

import re
import time

import pytest

from mallow.testing import (
    backend_params,
    disable_plugin,
    dispose_app,
    enable_plugin,
    make_product,
    make_store,
    plugin_app,
)
from mallow.testing.builders import build_plugin
from mallow.testing.sql import listing, statements

BELL = """
from mallow.sdk import EarlyAnswer, hookimpl


def _ring(request):
    return EarlyAnswer(409, {"error": "rung", "n": request.args["n"]}, (("Retry-After", "1"),))


def _peek(request):
    return EarlyAnswer(200, {"peek": True})


@hookimpl
def mallow_early_routes():
    return [("POST", "/api/x/edgebell/ring/<int:n>", _ring), ("GET", "/x/edgebell/peek", _peek)]
"""


@pytest.fixture(scope="module", params=backend_params())
def bell_app(request, tmp_path_factory):
    with build_plugin(tmp_path_factory) as fakes:
        fakes.add("edgebell", BELL, permissions=["api"])
        app = plugin_app(tmp_path_factory, request.param, ["edgebell"])
        yield app
        dispose_app(app)


def test_an_early_answer_is_sent_as_the_app_would_without_a_statement(bell_app):
    shop = make_store(bell_app)
    enable_plugin(bell_app, shop, "edgebell")
    client = bell_app.test_client()
    ring = f"{shop.prefix}/api/x/edgebell/ring/3"
    client.get(f"{shop.prefix}/")  # the store met, its plugins read
    with statements() as seen:
        answered = client.post(ring, data=b"{}", content_type="application/json")
    assert seen == [], listing(seen)
    assert answered.status == "409 CONFLICT" and answered.get_json() == {"error": "rung", "n": 3}
    assert answered.headers["Content-Type"] == "application/json"
    assert answered.headers["Content-Length"] == str(len(answered.get_data()))
    assert answered.headers["Retry-After"] == "1" and answered.headers["X-Content-Type-Options"] == "nosniff"

    peek = f"{shop.prefix}/x/edgebell/peek"
    body = client.get(peek).get_data()
    head = client.head(peek)
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["Content-Length"] == str(len(body))


def test_early_answers_follow_the_plugin_being_switched(bell_app):
    shop = make_store(bell_app)
    make_product(bell_app, shop)
    ring = f"{shop.prefix}/api/x/edgebell/ring/1"
    client = bell_app.test_client()
    home = f"{shop.prefix}/"
    for _ in range(2):  # not on in this store: the app answers (the plugin has no such route)
        client.get(home)
        assert client.post(ring).status_code == 404
    enable_plugin(bell_app, shop, "edgebell")
    for _ in range(2):
        client.get(home)
        assert client.post(ring).status_code == 409
    disable_plugin(bell_app, shop, "edgebell")
    for _ in range(2):
        client.get(home)
        assert client.post(ring).status_code == 404
    # the store's own routes are never offered to early routes
    assert client.get(f"{shop.prefix}/api/products").get_json()["total"] == 1


# --- a visitor's session cookie ------------------------------------------------------------------


@pytest.fixture
def product_page(app):
    shop = make_store(app)
    [sku] = make_product(app, shop, title="临安山核桃仁", price=3900, stock=5)
    from mallow.catalog.models import Sku
    from mallow.db import db
    from mallow.tenants.context import store_context

    with store_context(shop.store_id, app=app):
        path = f"{shop.prefix}/products/{db.session.get(Sku, sku).product_id}"
    for _ in range(2):
        assert app.test_client().get(path).status_code == 200
    return shop, path, sku


def _token(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_a_visitor_keeps_one_session_across_kept_pages(app, product_page):
    shop, path, sku = product_page
    visitor = app.test_client()
    first = visitor.get(path)
    assert first.headers["X-Mallow-Cache"] == "hit" and "session=" in first.headers["Set-Cookie"]
    assert "Cookie" in first.headers["Vary"]
    for _ in range(3):  # their session cookie read (once) and kept: no new cookie, a token of it
        again = visitor.get(path)
        assert again.headers["X-Mallow-Cache"] == "hit" and "Set-Cookie" not in again.headers
        assert again.headers["Content-Length"] == str(len(again.get_data()))
    added = visitor.post(f"{shop.prefix}/cart/items", data={"csrf_token": _token(again), "sku_id": sku})
    assert added.status_code == 303


def test_a_session_cookie_that_is_not_ours_or_too_old_is_never_served_a_kept_page(app, product_page, monkeypatch):
    _shop, path, _sku = product_page
    visitor = app.test_client()
    visitor.get(path)
    raw = visitor.get_cookie("session").value
    assert visitor.get(path).headers["X-Mallow-Cache"] == "hit"

    for _ in range(2):  # (the app gives each a session of their own: a new client each time)
        forged = app.test_client()
        forged.set_cookie("session", raw[:-2] + ("AA" if not raw.endswith("AA") else "BB"))
        assert "X-Mallow-Cache" not in forged.get(path).headers

    lifetime = app.permanent_session_lifetime.total_seconds()
    later = time.time() + lifetime + 60
    monkeypatch.setattr(time, "time", lambda: later)
    for _ in range(2):  # the page kept again at that time: a visitor without a cookie gets it
        app.test_client().get(path)
    assert app.test_client().get(path).headers["X-Mallow-Cache"] == "hit"
    # but the session read an age ago has expired since (the app gives them a new one)
    assert "X-Mallow-Cache" not in visitor.get(path).headers
