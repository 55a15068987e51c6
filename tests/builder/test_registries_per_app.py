"""Registries belong to the app: two apps built in one process, one with a plugin loaded and one
without, each see their own block types, jobs and API operations, and never the other's."""

from __future__ import annotations

import pytest

from mallow.api.registry import api_of
from mallow.builder.blocks import types_of
from mallow.jobs.registry import jobs_of
from mallow.testing import build_app, dispose_app, plugin_app


@pytest.fixture(scope="module")
def two_apps(tmp_path_factory):
    # given an app with the group-buy plugin loaded, built first, and one without it
    with_plugin = plugin_app(tmp_path_factory, "sqlite", ["groupbuy"])
    without = build_app(tmp_path_factory, "sqlite")
    yield with_plugin, without
    dispose_app(with_plugin)
    dispose_app(without)


def test_a_plugins_block_types_are_only_in_the_app_that_loaded_it(two_apps):
    with_plugin, without = two_apps
    assert types_of(with_plugin).get("groupbuy_list").plugin == "groupbuy"
    assert types_of(without).get("groupbuy_list") is None
    # the built-in types are in both, as separate registries
    assert types_of(with_plugin) is not types_of(without)
    assert {t.name for t in types_of(without).all()} == {t.name for t in types_of(with_plugin).all() if t.builtin}


def test_a_plugins_jobs_are_only_in_the_app_that_loaded_it(two_apps):
    with_plugin, without = two_apps
    plugin_jobs = {name for name in jobs_of(with_plugin).registered() if name.startswith("groupbuy.")}
    assert plugin_jobs
    assert not {name for name in jobs_of(without).registered() if name.startswith("groupbuy.")}
    assert not {name for name in jobs_of(without).periodic() if name.startswith("groupbuy.")}
    # Mallow's own jobs are in both
    assert "orders.sweep" in jobs_of(with_plugin).periodic() and "orders.sweep" in jobs_of(without).periodic()


def test_a_plugins_operations_are_only_in_the_app_that_loaded_it(two_apps):
    with_plugin, without = two_apps

    def operation_ids(app) -> set[str]:
        doc = app.test_client().get("/api/openapi.json").get_json()
        return {op["operationId"] for item in doc["paths"].values() for op in item.values()}

    assert "groupbuyListCampaigns" in operation_ids(with_plugin)
    assert not {name for name in operation_ids(without) if name.startswith("groupbuy")}
    # the core operations: the same declarations, routed on each app's own blueprints
    assert {op.operation_id for op in api_of(with_plugin).operations} == {
        op.operation_id for op in api_of(without).operations
    }
    assert api_of(with_plugin).blueprints["store_api"] is not api_of(without).blueprints["store_api"]
