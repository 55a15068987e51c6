"""``mallow plugin new``: the scaffolded plugin installs with pip, is discovered, reviewed,
loaded at the next start, enabled for one store, and changes a price there (and only there)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from mallow.cli import main
from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    login_merchant,
    make_admin,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    plugin_app,
    restart_app,
)


def _no_app():
    raise AssertionError("`mallow plugin new` needs no app and no database")


def _cli(*args, app=None):
    return CliRunner().invoke(
        main, list(args), obj=ScriptInfo(create_app=(lambda: app) if app is not None else _no_app)
    )


@pytest.mark.parametrize(
    "name", ["Bad", "x", "has-dash", "double__underscore", "trailing_", "1st", "mallow", "a" * 31, "groupbuy"]
)
def test_plugin_names_are_checked(name, tmp_path):
    result = _cli("plugin", "new", name, "--dir", str(tmp_path))
    assert result.exit_code != 0 and "Error" in result.output
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "mallow-keep-me").mkdir()
    (tmp_path / "mallow-keep-me" / "notes.txt").write_text("mine")
    result = _cli("plugin", "new", "keep_me", "--dir", str(tmp_path))
    assert result.exit_code != 0 and "not empty" in result.output


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    """A plugin made by `mallow plugin new`, pip-installed into this environment for the module."""
    name = f"scaffold_{uuid.uuid4().hex[:6]}"
    result = _cli(
        "plugin",
        "new",
        f"mallow_{name}",
        "--dir",
        str(tmp_path_factory.mktemp("work")),
        "--author",
        "李雷 <li@example.com>",
    )
    assert result.exit_code == 0, result.output
    folder = next(line.split(" ", 1)[1] for line in result.output.splitlines() if line.startswith("created "))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", folder],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    importlib.invalidate_caches()
    try:
        yield name, folder
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", f"mallow-{name.replace('_', '-')}"],
            capture_output=True,
            text=True,
        )
        for module in [m for m in sys.modules if m.split(".")[0] == f"mallow_{name}"]:
            del sys.modules[module]
        importlib.invalidate_caches()


def test_the_scaffold_has_what_a_plugin_needs(scaffolded):
    from pathlib import Path

    name, folder = scaffolded
    root = Path(folder)
    package = root / f"mallow_{name}"
    pyproject = (root / "pyproject.toml").read_text()
    assert f'[project.entry-points."mallow.plugins"]\n{name} = "mallow_{name}"' in pyproject
    assert "plugin.json" in pyproject and "templates/blocks/*.html" in pyproject
    for path in (
        "README.md",
        "tests/test_plugin.py",
        f"mallow_{name}/__init__.py",
        f"mallow_{name}/plugin.json",
        f"mallow_{name}/templates/blocks/{name}_banner.html",
        "babel.cfg",
        f"mallow_{name}/i18n.py",
        f"mallow_{name}/translations/zh_Hans_CN/LC_MESSAGES/mallow_{name}.po",
        f"mallow_{name}/translations/zh_Hans_CN/LC_MESSAGES/mallow_{name}.mo",
    ):
        assert (root / path).is_file(), path
    assert "float" not in (package / "__init__.py").read_text().replace("never use floats", "")
    assert "translations/*/LC_MESSAGES/*.mo" in pyproject  # the catalogue ships with the plugin
    # it imports nothing of Mallow but the SDK
    imports = [
        line
        for path in (package.rglob("*.py"))
        for line in path.read_text().splitlines()
        if line.startswith(("from mallow", "import mallow")) and not line.startswith(f"from mallow_{name}")
    ]
    assert imports and all(line.startswith("from mallow.sdk import") for line in imports), imports
    # the manifest: a Chinese title, its author, the hooks it implements, money settings
    manifest = json.loads((package / "plugin.json").read_text())
    assert manifest["title"] == {"zh_CN": "满减优惠", "en": name.replace("_", " ").title()}
    assert manifest["author"] == "李雷 <li@example.com>"
    assert '"李雷 <li@example.com>"' in pyproject
    assert manifest["hooks"] == sorted(
        ["mallow_order_adjustments", "mallow_validate_settings", "mallow_template_slot", "mallow_register_blocks"]
    )
    money = manifest["settings_schema"]["properties"]
    assert money["threshold"]["format"] == money["reduction"]["format"] == "money"
    # a real README: what it does, settings, hooks, permissions, develop/test/publish; Chinese first
    readme = (root / "README.md").read_text()
    for part in (
        "它做什么",
        "What it does",
        "设置",
        "mallow_validate_settings",
        "权限",
        "pytest",
        "serve --dev",
        "发布",
    ):
        assert part in readme, part
    assert readme.index("满额立减") < readme.index("Full reduction")


def test_the_author_defaults_to_gits_user_name(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = 韩梅梅\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    result = _cli("plugin", "new", "author_probe", "--dir", str(tmp_path), "--title", "作者测试")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "mallow-author-probe" / "mallow_author_probe" / "plugin.json").read_text())
    assert manifest["author"] == "韩梅梅" and manifest["title"]["zh_CN"] == "作者测试"


@pytest.fixture(scope="module", params=backend_params())
def platform(request, scaffolded, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, [])
    yield app
    dispose_app(app)


def test_a_scaffolded_plugin_is_reviewed_loaded_enabled_and_changes_a_price(scaffolded, platform):
    from mallow.db import db
    from mallow.plugin_host import marketplace
    from mallow.plugin_host.models import PluginRelease
    from mallow.accounts.models import PlatformAdmin

    name, _folder = scaffolded
    app = platform
    # installed → discovered by sync, which never imports it (an earlier backend's start may have)
    imported_before = f"mallow_{name}" in sys.modules
    assert f"submitted for review: {name} 0.1.0" in _cli("plugin", "sync", app=app).output
    assert (f"mallow_{name}" in sys.modules) == imported_before
    assert name not in app.extensions["mallow.loaded_plugins"]
    # reviewed: a platform admin approves the version
    admin_id, _email = make_admin(app)
    with app.app_context():
        release = db.session.execute(db.select(PluginRelease).filter_by(name=name)).scalar_one()
        assert release.status == "submitted" and release.manifest["permissions"] == ["pricing", "storefront", "blocks"]
        marketplace.approve(release, db.session.get(PlatformAdmin, admin_id), "代码已审阅")
    # the next start loads it
    started = restart_app(app)
    try:
        assert started.extensions["mallow.loaded_plugins"][name].version == "0.1.0"
        from mallow.builder import blocks

        assert blocks.types_of(started).get(f"{name}_banner") is not None
        assert started.extensions["mallow.plugin_blocks"][f"{name}_banner"] == name
        # enabled for one store by its owner, with settings in fen (the API's unit): 满 ¥30 减 ¥5
        mine, other = make_store(started), make_store(started)
        [sku] = make_product(started, mine, price=1990)
        [other_sku] = make_product(started, other, price=1990)
        client = started.test_client()
        owner = bearer(merchant_token(client, mine))
        settings = {"threshold": 3000, "reduction": 500}
        enabled = client.post(
            f"{mine.prefix}/api/console/plugins/{name}/enable", json={"settings": settings}, headers=owner
        )
        assert enabled.status_code == 200, enabled.get_json()
        # it changes the price there, and only there
        priced = _quote(client, mine, sku)
        assert [(a["source"], a["amount"], a["label"]) for a in priced["adjustments"]] == [(name, -500, "满减优惠")]
        assert priced["total"] == 3980 - 500
        untouched = _quote(client, other, other_sku)
        assert untouched["total"] == 3980 and untouched["adjustments"] == []
        # the owner sees its generated settings form in the console, amounts in yuan
        login_merchant(client, mine)
        form = client.get(f"{mine.prefix}/console/plugins/{name}").get_data(as_text=True)
        assert 'name="s_threshold"' in form and 'value="30.00"' in form and "门槛（满多少）" in form
    finally:
        dispose_app(started, drop_database=False)


def _quote(client, shop, sku_id):
    token, _address = make_shopper(client, shop)
    response = client.post(
        f"{shop.prefix}/api/checkout/quote", headers=bearer(token), json={"items": [{"sku_id": sku_id, "quantity": 2}]}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_scaffolded_plugins_own_tests_pass(scaffolded):
    _name, folder = scaffolded
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "5 passed" in run.stdout
