"""Development mode: ``mallow serve --dev --plugins DIR`` runs the plugin being written from its
folder (as ``mallow plugin new`` made it), without pip install and without review, on
werkzeug's reloader watching the plugin's files; a production platform refuses it."""

from __future__ import annotations

import os
import sys
import uuid

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from mallow.cli import main
from mallow.plugin_host import devmode
from mallow.plugin_host.scaffold import create
from mallow.testing import (
    backend_params,
    bearer,
    build_app,
    dispose_app,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
)


def _no_app():
    raise AssertionError("a refused `serve --dev` builds no app")


@pytest.fixture
def dev_folder(tmp_path):
    """``plugins-dev/`` holding one plugin made by `mallow plugin new` (never pip-installed);
    ``sys.path`` and the modules imported from it are put back afterwards."""
    name = f"dev_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "plugins-dev"
    folder.mkdir()
    create(name, folder, author="开发者")
    path = list(sys.path)
    yield name, folder
    sys.path[:] = path
    for module in [m for m in sys.modules if m.split(".")[0] == f"mallow_{name}"]:
        del sys.modules[module]


def test_serve_dev_is_refused_in_production(dev_folder, monkeypatch):
    _name, folder = dev_folder
    monkeypatch.setenv("MALLOW_ENV", "production")
    result = CliRunner().invoke(main, ["serve", "--dev", "--plugins", str(folder)], obj=ScriptInfo(create_app=_no_app))
    assert result.exit_code != 0
    assert "refused in production" in result.output and "without review" in result.output


def test_serve_dev_is_refused_when_the_apps_config_says_production(dev_folder, monkeypatch, tmp_path_factory):
    _name, folder = dev_folder
    monkeypatch.delenv("MALLOW_ENV", raising=False)
    monkeypatch.setenv("MALLOW_DEV_PLUGIN_DIRS", "")
    monkeypatch.setattr(devmode, "run_simple", lambda *a, **k: pytest.fail("no server in production"))
    app = build_app(tmp_path_factory, "sqlite", MALLOW_ENV="production")
    try:
        result = CliRunner().invoke(
            main, ["serve", "--dev", "--plugins", str(folder)], obj=ScriptInfo(create_app=lambda: app)
        )
        assert result.exit_code != 0 and "refused in production" in result.output
        assert not app.extensions["mallow.loaded_plugins"]  # the loader ignores dev folders there too
    finally:
        dispose_app(app)


def test_plugins_need_dev(dev_folder):
    _name, folder = dev_folder
    result = CliRunner().invoke(main, ["serve", "--plugins", str(folder)], obj=ScriptInfo(create_app=_no_app))
    assert result.exit_code != 0 and "--dev" in result.output


def test_serve_dev_loads_the_folder_without_review_and_watches_its_files(dev_folder, monkeypatch, tmp_path_factory):
    name, folder = dev_folder
    monkeypatch.delenv("MALLOW_ENV", raising=False)
    monkeypatch.setenv("MALLOW_DEV_PLUGIN_DIRS", "")  # restored after the test: the command sets it
    served = {}
    monkeypatch.setattr(devmode, "run_simple", lambda host, port, app, **options: served.update(app=app, **options))
    built = []

    def create_app():
        built.append(build_app(tmp_path_factory, "sqlite"))  # reads MALLOW_DEV_PLUGIN_DIRS like `mallow serve`
        return built[-1]

    try:
        result = CliRunner().invoke(
            main, ["serve", "--dev", "--plugins", str(folder), "--port", "5999"], obj=ScriptInfo(create_app=create_app)
        )
        assert result.exit_code == 0, result.output
        # the banner says which plugins run unreviewed
        assert (
            "WITHOUT REVIEW" in result.output and f"{name} 0.1.0" in result.output and "not reviewed" in result.output
        )
        app = served["app"]
        assert name in app.extensions["mallow.loaded_plugins"]
        # werkzeug's reloader, watching the manifest, the templates and the code
        assert served["use_reloader"] is True
        package = folder / f"mallow-{name.replace('_', '-')}" / f"mallow_{name}"
        for path in ("plugin.json", f"templates/blocks/{name}_banner.html", "__init__.py"):
            assert str(package / path) in served["extra_files"], path
    finally:
        for app in built:
            dispose_app(app)


@pytest.mark.parametrize("backend", backend_params())
def test_a_dev_plugin_runs_without_a_release_row(dev_folder, backend, tmp_path_factory):
    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    name, folder = dev_folder
    environ = {}
    site = devmode.start([folder], environ)
    assert [plugin.name for plugin in site.plugins] == [name]
    app = build_app(
        tmp_path_factory, backend, MALLOW_DEV_PLUGIN_DIRS=environ["MALLOW_DEV_PLUGIN_DIRS"].split(os.pathsep)
    )
    try:
        assert name in app.extensions["mallow.loaded_plugins"]
        with app.app_context():
            assert db.session.execute(db.select(PluginRelease).filter_by(name=name)).first() is None
        # a merchant enables it and it prices: 满 ¥30 减 ¥5
        shop = make_store(app)
        [sku] = make_product(app, shop, price=2000)
        client = app.test_client()
        owner = bearer(merchant_token(client, shop))
        enabled = client.post(
            f"{shop.prefix}/api/console/plugins/{name}/enable",
            json={"settings": {"threshold": 3000, "reduction": 500}},
            headers=owner,
        )
        assert enabled.status_code == 200, enabled.get_json()
        token, _address = make_shopper(client, shop)
        quote = client.post(
            f"{shop.prefix}/api/checkout/quote", headers=bearer(token), json={"items": [{"sku_id": sku, "quantity": 2}]}
        ).get_json()
        assert quote["total"] == 4000 - 500
    finally:
        dispose_app(app)
        site.close()


def test_without_dev_mode_the_folder_is_not_loaded(dev_folder, tmp_path_factory):
    name, folder = dev_folder
    site = devmode.prepare([folder])
    app = build_app(tmp_path_factory, "sqlite")
    try:
        assert name not in app.extensions["mallow.loaded_plugins"]  # installed, not approved, not dev
    finally:
        dispose_app(app)
        site.close()


def test_folder_problems_are_told_plainly(tmp_path):
    with pytest.raises(devmode.DevModeError, match="is not a folder"):
        devmode.prepare([tmp_path / "missing"])
    broken = tmp_path / "mallow-broken" / "mallow_broken"
    broken.mkdir(parents=True)
    (broken / "plugin.json").write_text('{"name": "broken", "version": }')
    with pytest.raises(devmode.DevModeError, match=r"plugin\.json.*Expecting value"):
        devmode.prepare([tmp_path])
