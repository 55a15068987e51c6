"""A kept page costs the same whatever plugins its store has on (bench/plugins_cpu.py): the front
door answers it without reading the store's enabled plugins, without offering the path to early
routes and without calling a plugin hook; what the plugins put on the page is in the kept body."""

from __future__ import annotations

import pytest

from mallow.testing import backend_params, dispose_app, enable_plugin, make_product, make_store, plugin_app
from mallow.testing.builders import build_plugin
from mallow.testing.sql import listing, statements

TOPS = """
from mallow.sdk import EarlyAnswer, hookimpl


def _peek(request):
    return EarlyAnswer(200, {"peek": True})


@hookimpl
def mallow_early_routes():
    return [("GET", "/x/{name}/peek", _peek)]


@hookimpl
def mallow_template_slot(slot, context):
    return "{name} on top" if slot == "home.top" else None
"""
NAMES = ("keptone", "kepttwo", "keptthree")


@pytest.fixture(scope="module", params=backend_params())
def tops_app(request, tmp_path_factory):
    with build_plugin(tmp_path_factory) as fakes:
        for name in NAMES:
            fakes.add(name, TOPS.replace("{name}", name), permissions=["storefront"])
        app = plugin_app(tmp_path_factory, request.param, list(NAMES))
        yield app
        dispose_app(app)


def test_a_kept_page_is_answered_without_asking_the_plugins(tops_app, monkeypatch):
    from mallow.edge import door
    from mallow.plugins import early, manager, slot_cache

    shop = make_store(tops_app)
    make_product(tops_app, shop)
    for name in NAMES:
        enable_plugin(tops_app, shop, name)
    client = tops_app.test_client()
    home = f"{shop.prefix}/"
    first = client.get(home)
    assert first.status_code == 200 and all(f"{name} on top" in first.get_data(as_text=True) for name in NAMES)

    def refused(*args, **kwargs):
        raise AssertionError("a kept page asked the store's plugins")

    monkeypatch.setattr(door, "enabled_names", refused)
    monkeypatch.setattr(early, "early_answer", refused)
    for module, name in ((manager, "hooks"), (slot_cache, "hooks"), (slot_cache, "enabled_plugins")):
        monkeypatch.setattr(module, name, refused)
    for _ in range(3):
        with statements() as seen:
            again = client.get(home)
        assert seen == [], listing(seen)
        assert again.headers["X-Mallow-Cache"] == "hit" and again.get_data() == first.get_data()
