"""Early answers (``mallow_early_routes``, :mod:`mallow.plugins.early`): a plugin answers its own
routes before Flask dispatches the request, only in stores that enabled it and are open, only
under its own prefixes, and a handler that fails is blamed while the request goes on to the
normal route with its body intact."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from werkzeug.test import EnvironBuilder

from mallow.plugins.early import early_answer, install
from mallow.testing import backend_params, dispose_app, make_store, plugin_app

CODE = """
import time

from mallow.sdk import EarlyAnswer, hookimpl

#: "raise", "wrong" (a dict instead of an EarlyAnswer), "pass" (no answer), "spin" (20 ms of CPU)
#: or "sleep" (20 ms waiting); default: answer
MODE = {}


def _ping(request):
    mode = MODE.get("mode")
    if mode == "spin":
        started = time.thread_time()
        while time.thread_time() - started < 0.02:
            pass
    if mode == "sleep":
        time.sleep(0.02)
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "wrong":
        return {"status": 200}
    if mode == "pass":
        return None
    body = {"n": request.args["n"], "store": request.store_id, "body": request.body.decode(), "locale": request.locale}
    return EarlyAnswer(202, body, (("Retry-After", "1"),))


@hookimpl
def mallow_early_routes():
    return [("POST", "/api/x/early/ping/<int:n>", _ping)]
"""

GREEDY = """
from mallow.sdk import EarlyAnswer, hookimpl


@hookimpl
def mallow_early_routes():
    return [
        ("GET", "/x/greedy/fine", lambda request: EarlyAnswer(200, {})),
        ("GET", "/api/cart", lambda request: EarlyAnswer(200, {"stolen": True})),  # not its own
    ]
"""


@pytest.fixture(scope="module", params=backend_params())
def app(request, fake_plugins, tmp_path_factory):
    for name, code in (("early", CODE), ("greedy", GREEDY)):
        if f"mallow_{name}" not in fake_plugins.packages:
            fake_plugins.add(name, code, permissions=["api"])
    app = plugin_app(tmp_path_factory, request.param, ["early", "greedy"], MALLOW_PLUGIN_BREAKER_FAULTS=10_000)
    yield app
    dispose_app(app)


@pytest.fixture
def mode():
    module = __import__("mallow_early")
    module.MODE.clear()
    yield module.MODE
    module.MODE.clear()


@pytest.fixture(scope="module")
def shop(app):
    return make_store(app)


def _store(shop, *, status="open", enabled=("early", "greedy")):
    return SimpleNamespace(id=shop.store_id, slug=shop.slug, status=status, enabled=frozenset(enabled))


def _environ(shop, path="/api/x/early/ping/7", method="POST", **kwargs):
    return EnvironBuilder(path=f"{shop.prefix}{path}", method=method, **kwargs).get_environ()


def _faults(app, plugin, kind):
    from mallow.db import db
    from mallow.plugins.models import PluginFault

    with app.app_context():
        return {
            (row.store_id, row.hook): row.count
            for row in db.session.execute(db.select(PluginFault).filter_by(plugin=plugin, kind=kind)).scalars()
        }


def test_an_enabled_plugin_answers_its_route_as_json(app, shop, mode):
    environ = _environ(shop, data="hi", headers={"Accept-Language": "en-GB,en;q=0.9"})
    status, headers, body = early_answer(app, environ, _store(shop))
    assert status == 202
    assert json.loads(body) == {"n": 7, "store": shop.store_id, "body": "hi", "locale": "en"}
    assert ("Content-Type", "application/json") in headers and ("Retry-After", "1") in headers
    assert dict(headers)["Content-Length"] == str(len(body))
    chinese = early_answer(app, _environ(shop, data="hi", query_string={"lang": "zh_CN"}), _store(shop))
    assert json.loads(chinese[2])["locale"] == "zh_CN"
    assert any(name == "Set-Cookie" and value.startswith("lang=zh_CN") for name, value in chinese[1])


def test_only_where_it_is_enabled_and_the_store_is_open(app, shop, mode):
    assert early_answer(app, _environ(shop), _store(shop, enabled=("greedy",))) is None
    assert early_answer(app, _environ(shop), _store(shop, status="suspended")) is None
    other = SimpleNamespace(id=shop.store_id + 1000, slug="someone-else", status="open", enabled=frozenset(["early"]))
    assert early_answer(app, _environ(shop), other) is None  # the path is another store's
    assert early_answer(app, _environ(shop, method="GET"), _store(shop)) is None  # the rule says POST


def test_a_plugin_answers_only_under_its_own_prefixes(app, shop):
    # a route outside its prefixes takes all of the plugin's early routes out, and is blamed
    assert early_answer(app, _environ(shop, "/api/cart", method="GET"), _store(shop)) is None
    assert early_answer(app, _environ(shop, "/x/greedy/fine", method="GET"), _store(shop)) is None
    install(app)  # built again: the same refusal, recorded again
    assert _faults(app, "greedy", "error") == {(None, "mallow_early_routes"): 2}


@pytest.mark.parametrize("kind", ["raise", "wrong", "pass"])
def test_a_handler_that_fails_is_blamed_and_the_route_gets_the_body(app, shop, mode, kind):
    mode["mode"] = kind
    before = _faults(app, "early", {"raise": "error", "wrong": "bad_result"}.get(kind, "error"))
    environ = _environ(shop, data=b'{"sku_id": 1}', content_type="application/json")
    assert early_answer(app, environ, _store(shop)) is None
    assert environ["wsgi.input"].read() == b'{"sku_id": 1}' and environ["CONTENT_LENGTH"] == "13"
    after = _faults(app, "early", {"raise": "error", "wrong": "bad_result"}.get(kind, "error"))
    key = (shop.store_id, "mallow_early_routes")
    assert after.get(key, 0) - before.get(key, 0) == (0 if kind == "pass" else 1)


def test_a_handler_that_burns_cpu_is_blamed_one_that_waits_is_not(app, shop, mode, monkeypatch):
    routes = app.extensions.get("mallow.early_routes") or install(app)
    monkeypatch.setattr(routes, "budget_ms", 1.0)  # a strike from 5 ms of CPU
    key = (shop.store_id, "mallow_early_routes")
    before = _faults(app, "early", "over_budget").get(key, 0)
    mode["mode"] = "sleep"  # a thread that waits (for Redis, for the GIL) is nobody's fault
    assert early_answer(app, _environ(shop), _store(shop))[0] == 202
    assert _faults(app, "early", "over_budget").get(key, 0) == before
    mode["mode"] = "spin"  # its answer still counts: a slow answer is still the answer
    assert early_answer(app, _environ(shop), _store(shop))[0] == 202
    assert _faults(app, "early", "over_budget").get(key, 0) == before + 1
