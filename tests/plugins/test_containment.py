"""Containment: a plugin that fails to import or to register is reported (log, CLI, admin) and
skipped; the platform and every command keep working, and nothing of the failed plugin stays
half-registered. Development folders load without review, never in production. A plugin's views
run as the plugin."""

from __future__ import annotations

import logging

import pytest

from mallow.testing import (
    listed_line,
    run_cli,
    backend_params,
    build_plugin,
    dispose_app,
    enable_plugin,
    login_admin,
    make_admin,
    make_store,
    plugin_app,
    restart_app,
)


@pytest.fixture(params=backend_params())
def backend(request):
    return request.param


SLOT = """
from mallow.sdk import hookimpl

RAISE = None


@hookimpl
def mallow_template_slot(slot, context):
    return None
"""


def test_a_plugin_that_raises_at_import_is_named_and_everything_else_works(
    backend, fake_plugins, tmp_path_factory, caplog
):
    from mallow.plugin_host.problems import problems_of

    # given approved plugins: one fine, one raising at import, one exiting, one with a syntax error
    fine, raising, exiting, broken = (f"{kind}_{backend}" for kind in ("fine", "raising", "exiting", "typo"))
    fake_plugins.add(fine, SLOT)
    fake_plugins.add(raising, "raise RuntimeError('插件在导入时坏了')\n")
    fake_plugins.add(exiting, "import sys\nsys.exit(3)\n")
    fake_plugins.add(broken, "def oops(:\n")
    names = [fine, raising, exiting, broken]
    with caplog.at_level(logging.ERROR, logger="mallow.plugins"):
        app = plugin_app(tmp_path_factory, backend, names)
    restarted = None
    try:
        shop = make_store(app)
        enable_plugin(app, shop, fine)
        # then the start-up skipped the broken three, named in the log, and loaded the fine one
        assert set(app.extensions["mallow.loaded_plugins"]) & set(names) == {fine}
        problems = problems_of(app)
        assert problems[raising].kind == "import_failed" and "插件在导入时坏了" in problems[raising].message
        assert problems[exiting].kind == "import_failed" and "SystemExit" in problems[exiting].message
        # (a file that does not parse is refused by the inspection, before any import)
        assert (
            problems[broken].kind == "forbidden_imports" and "__init__.py:1" in problems[broken].message
        )  # does not parse
        assert any(raising in r.getMessage() and "import_failed" in r.getMessage() for r in caplog.records)
        assert f"mallow_{raising}" not in __import__("sys").modules  # nothing half-imported is kept

        # when Mallow starts again (create_app), it starts, and the store's pages answer
        restarted = restart_app(app)
        assert fine in restarted.extensions["mallow.loaded_plugins"]
        assert restarted.test_client().get(f"{shop.prefix}/").status_code == 200

        # and `mallow plugin list`, `plugin sync` and `db upgrade` work and name it
        listed = run_cli(restarted, "plugin", "list")
        assert "not loaded: import failed: RuntimeError: 插件在导入时坏了" in listed_line(listed, raising)
        assert "forbidden imports: __init__.py:1" in listed_line(listed, broken) and listed_line(listed, fine).endswith(
            "loaded"
        )
        run_cli(restarted, "plugin", "sync")
        upgraded = run_cli(restarted, "db", "upgrade")
        assert f"plugin {raising} skipped: not loaded (import_failed" in upgraded
        assert "plugins: 1 store plugin(s) at head" in upgraded

        # and the admin's list says it failed to import, with the message
        _admin_id, email = make_admin(restarted)
        client = restarted.test_client()
        login_admin(client, email)
        html = client.get("/admin/plugins").get_data(as_text=True)
        row = html.split(f'id="state-{raising}"', 1)[1].split("</tr>", 1)[0]
        assert "state-import_failed" in html and "插件在导入时坏了" in row
    finally:
        if restarted is not None:
            dispose_app(restarted, drop_database=False)
        dispose_app(app)


REGISTERS_THEN_RAISES = """
from flask import Blueprint

from mallow.sdk import hookimpl

bp = Blueprint("pages", __name__)
bp.add_url_rule("/", "home", lambda: "half")


def job(store):
    return None


@hookimpl
def mallow_register_routes(register):
    register(bp, "storefront")
    {routes}


@hookimpl
def mallow_register_blocks(register):
    register("{name}_note", label="说明", schema={{"type": "object", "properties": {{}}}})


@hookimpl
def mallow_register_jobs(register):
    register("{name}.first", job)
    {jobs}
"""


def test_a_plugin_failing_to_register_leaves_nothing_behind(backend, fake_plugins, tmp_path_factory):
    from mallow.builder.blocks import types_of
    from mallow.jobs.registry import jobs_of
    from mallow.plugin_host.problems import problems_of

    # given three approved plugins that register a route, a block type and a job, and then:
    # raise in mallow_register_routes, raise in mallow_register_jobs, register a job Mallow refuses
    cases = {
        f"in_routes_{backend}": ("raise RuntimeError('路由注册失败')", ""),
        f"in_jobs_{backend}": ("", "raise KeyError('job')"),
        f"bad_job_{backend}": ("", "register('not a name', job)"),
    }
    for name, (routes, jobs) in cases.items():
        fake_plugins.add(name, REGISTERS_THEN_RAISES.format(name=name, routes=routes, jobs=jobs))
    app = plugin_app(tmp_path_factory, backend, list(cases))
    try:
        problems = problems_of(app)
        shop = make_store(app)
        client = app.test_client()
        for name in cases:
            # then none is loaded, each is reported with why
            assert name not in app.extensions["mallow.loaded_plugins"]
            assert problems[name].kind == "register_failed", problems[name]
            # and none of what it registered before failing is in the app
            assert not [b for b in app.blueprints if b.startswith(f"x_{name}_")]
            assert client.get(f"{shop.prefix}/x/{name}/").status_code == 404
            assert types_of(app).get(f"{name}_note") is None
            assert f"{name}.first" not in jobs_of(app).registered()
            assert app.extensions["mallow.plugins"].get_plugin(f"plugin:{name}") is None
        assert "路由注册失败" in problems[f"in_routes_{backend}"].message
        assert "not a name" in problems[f"bad_job_{backend}"].message
    finally:
        dispose_app(app)


FORBIDDEN = """
from mallow.db import db
from mallow.sdk import hookimpl
"""


def test_a_plugin_importing_mallow_beyond_the_sdk_is_refused_before_import(fake_plugins, tmp_path_factory):
    from mallow.plugin_host.problems import problems_of

    name = "reaches_in"
    folder = fake_plugins.add(name, FORBIDDEN + "\nopen(__file__ + '.ran', 'w').close()\n")
    app = plugin_app(tmp_path_factory, "sqlite", [name])
    try:
        problem = problems_of(app)[name]
        assert problem.kind == "forbidden_imports" and "mallow.db" in problem.message
        assert problem.files == ("__init__.py:2",)
        assert not (folder / "__init__.py.ran").exists()  # its code never ran
    finally:
        dispose_app(app)


VIEW = """
from flask import Blueprint

from mallow.sdk import hookimpl

bp = Blueprint("pages", __name__)
bp.add_url_rule("/", "home", lambda: "plugin page")


@hookimpl
def mallow_register_routes(register):
    register(bp, "storefront")
"""


def test_development_folders_load_without_review_and_never_in_production(tmp_path_factory):
    from mallow.plugin_host.status import plugin_states
    from mallow.plugins.acting import current_plugin

    with build_plugin(tmp_path_factory, "dev-plugins") as dev:
        dev.add("devloop", VIEW)
        base = plugin_app(tmp_path_factory, "sqlite", [])  # nothing approved
        apps = [base]
        try:
            assert "devloop" not in base.extensions["mallow.loaded_plugins"]
            # given the plugin's folder as a development folder: it loads, unreviewed, said so
            devapp = restart_app(base, MALLOW_DEV_PLUGIN_DIRS=[str(dev.root)])
            apps.append(devapp)
            assert "devloop" in devapp.extensions["mallow.loaded_plugins"]
            with devapp.app_context():
                assert plugin_states()["devloop"].state == "dev"
            assert "development folder, not reviewed" in listed_line(run_cli(devapp, "plugin", "list"), "devloop")
            # and its views run as the plugin
            shop = make_store(devapp)
            enable_plugin(devapp, shop, "devloop")
            [endpoint] = [e for e in devapp.view_functions if e.startswith("x_devloop_pages_")]
            devapp.view_functions[endpoint] = lambda **_kw: f"acting as {current_plugin()}"
            page = devapp.test_client().get(f"{shop.prefix}/x/devloop/")
            assert page.get_data(as_text=True) == "acting as devloop"
            assert current_plugin() is None
            # in production the same folder loads nothing without review
            production = restart_app(base, MALLOW_DEV_PLUGIN_DIRS=[str(dev.root)], MALLOW_ENV="production")
            apps.append(production)
            assert "devloop" not in production.extensions["mallow.loaded_plugins"]
        finally:
            for app in reversed(apps):
                dispose_app(app, drop_database=app is base)
