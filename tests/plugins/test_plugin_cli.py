"""The platform's switches on the command line: ``mallow plugin disable|enable NAME [--store
SLUG]`` and ``mallow plugin withdraw NAME [VERSION] --reason``. Each takes effect on the next
request in every process (the switch is read per request), is in the audit log, and a plugin the
platform switched off stays off for the merchant."""

from __future__ import annotations

import pytest

from mallow.testing import backend_params, dispose_app, enable_plugin, make_store, plugin_app, restart_app, run_cli

PAGE = """
from flask import Blueprint

from mallow.sdk import hookimpl

bp = Blueprint("pages", __name__)
bp.add_url_rule("/", "home", lambda: "switch page")


@hookimpl
def mallow_register_routes(register):
    register(bp, "storefront")
"""


@pytest.fixture(params=backend_params())
def backend(request):
    return request.param


def _rows(app, name):
    from mallow.db import db
    from mallow.plugins.models import StorePlugin

    with app.app_context():
        rows = db.session.execute(db.select(StorePlugin).filter_by(name=name).order_by(StorePlugin.store_id)).scalars()
        return {row.store_id: (row.enabled, row.disabled_reason) for row in rows}


def _actions(app, name):
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return [
            (e.action, e.actor_kind, e.store_id)
            for e in db.session.execute(
                db.select(AuditEntry).where(AuditEntry.target.like(f"plugin:{name}%")).order_by(AuditEntry.id)
            ).scalars()
        ]


def _merchant_enable(app, shop, name):
    from mallow.db import db
    from mallow.plugin_host import storeplugins
    from mallow.tenants.context import store_context
    from mallow.validation import ValidationFailed

    with store_context(shop.store_id, app=app) as store:
        try:
            storeplugins.enable(store, name, "merchant")
        except ValidationFailed as failed:
            db.session.rollback()
            return failed.errors["plugin"][0]
    return "enabled"


def test_the_platform_switches_a_plugin_off_and_on_per_store_and_everywhere(backend, fake_plugins, tmp_path_factory):
    name = f"switch_{backend}"
    fake_plugins.add(name, PAGE, title="开关插件")
    app = plugin_app(tmp_path_factory, backend, [name])
    try:
        a, b = make_store(app), make_store(app)
        for shop in (a, b):
            enable_plugin(app, shop, name)
        client = app.test_client()

        def pages():
            return [client.get(f"{shop.prefix}/x/{name}/").status_code for shop in (a, b)]

        assert pages() == [200, 200]

        # one store: off at once, for the platform's reason; the merchant cannot switch it on again
        assert f"{name} off in {a.slug}" in run_cli(app, "plugin", "disable", name, "--store", a.slug)
        assert pages() == [404, 200]
        assert _rows(app, name)[a.store_id] == (False, "platform")
        assert _merchant_enable(app, a, name) in ("platform_disabled", "switched_off")
        # the platform can
        run_cli(app, "plugin", "enable", name, "--store", a.slug)
        assert pages() == [200, 200] and _rows(app, name)[a.store_id] == (True, None)

        # every store at once
        assert f"{name} off in 2 store(s)" in run_cli(app, "plugin", "disable", name)
        assert pages() == [404, 404]
        assert set(_rows(app, name).values()) == {(False, "platform")}
        assert ("plugin.disabled", "cli", a.store_id) in _actions(app, name)
        assert ("plugin.disabled_everywhere", "cli", None) in _actions(app, name)
        assert ("plugin.enabled", "cli", a.store_id) in _actions(app, name)
        # an unknown store is a clear error
        assert "no store" in run_cli(app, "plugin", "enable", name, "--store", "nowhere", code=2)
    finally:
        dispose_app(app)


def test_withdrawing_stops_a_plugin_in_every_store_now_and_at_the_next_start(backend, fake_plugins, tmp_path_factory):
    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    name = f"recall_{backend}"
    fake_plugins.add(name, PAGE, title="召回插件")
    app = plugin_app(tmp_path_factory, backend, [name])
    restarted = None
    try:
        a, b = make_store(app), make_store(app)
        for shop in (a, b):
            enable_plugin(app, shop, name)
        client = app.test_client()
        assert client.get(f"{a.prefix}/x/{name}/").status_code == 200

        # a reason is required
        run_cli(app, "plugin", "withdraw", name, code=2)
        output = run_cli(app, "plugin", "withdraw", name, "--reason", "读取了别家店铺的数据")
        assert f"{name} 0.1.0 withdrawn" in output

        # then it is off in every store at once, in this running app too
        assert [client.get(f"{shop.prefix}/x/{name}/").status_code for shop in (a, b)] == [404, 404]
        assert set(_rows(app, name).values()) == {(False, "platform")}
        with app.app_context():
            release = db.session.execute(db.select(PluginRelease).filter_by(name=name)).scalar_one()
            assert (release.status, release.reason) == ("withdrawn", "读取了别家店铺的数据")
        assert ("plugin.withdrawn", "cli", None) in _actions(app, name)
        # `plugin list` says what this process still holds, and nobody can switch it on
        line = next(x for x in run_cli(app, "plugin", "list").splitlines() if x.startswith(name + " "))
        assert "withdrawn" in line and "not loaded from the next start" in line
        assert "(not_available)" in run_cli(app, "plugin", "enable", name, "--store", a.slug, code=1)
        assert _merchant_enable(app, b, name) in ("withdrawn", "not_available")
        # withdrawing again: nothing approved is left
        assert "no approved release" in run_cli(app, "plugin", "withdraw", name, "--reason", "again", code=1)

        # and the next start does not load it
        restarted = restart_app(app)
        assert name not in restarted.extensions["mallow.loaded_plugins"]
        assert "not loaded: withdrawn" in run_cli(restarted, "plugin", "list")
    finally:
        if restarted is not None:
            dispose_app(restarted, drop_database=False)
        dispose_app(app)
