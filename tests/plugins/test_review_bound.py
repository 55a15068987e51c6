"""Review is bound to the code: an approval holds for the files the reviewer read. A plugin edited
on disk after its approval is not loaded and shows which files changed; the admin re-reviews the
new files; a plugin whose hooks are not its manifest's is not loaded; the review page shows the
code, readable."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from mallow.testing import (
    backend_params,
    dispose_app,
    login_admin,
    make_admin,
    plugin_app,
    post_form,
    restart_app,
    listed_line,
    run_cli,
)

GREETER = """
from mallow.sdk import hookimpl

GREETING = "你好"


@hookimpl
def mallow_template_slot(slot, context):
    return GREETING if slot == "home.top" else None
"""


@pytest.fixture(params=backend_params())
def backend(request):
    return request.param


def _release(app, name, version="0.1.0"):
    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    with app.app_context():
        release = db.session.execute(db.select(PluginRelease).filter_by(name=name, version=version)).scalar_one()
        db.session.expunge(release)
        return release


def _audit(app, action):
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return [
            (e.target, e.detail) for e in db.session.execute(db.select(AuditEntry).filter_by(action=action)).scalars()
        ]


def test_an_approved_plugin_edited_on_disk_is_not_loaded_until_its_files_are_reviewed(
    backend, fake_plugins, tmp_path_factory
):
    from mallow.plugin_host.problems import problems_of

    # given a plugin approved at 0.1.0 (synced with its files' hashes, then approved) and running
    name = f"bound_{backend}"
    folder = fake_plugins.add(name, GREETER, title="绑定插件")
    app = plugin_app(tmp_path_factory, backend, [name])
    restarted = again = None
    try:
        assert name in app.extensions["mallow.loaded_plugins"]
        assert f"mallow_{name}/__init__.py" in _release(app, name).files

        # when its code is edited on disk and a file is added, without a new version
        (folder / "__init__.py").write_text(GREETER.replace("你好", "再见"), encoding="utf-8")
        (folder / "extra.py").write_text("SECRET = 1\n", encoding="utf-8")
        restarted = restart_app(app)

        # then the next start does not load it, and says which files changed
        assert name not in restarted.extensions["mallow.loaded_plugins"]
        problem = problems_of(restarted)[name]
        assert problem.kind == "changed_since_review"
        assert set(problem.files) == {f"mallow_{name}/__init__.py", f"mallow_{name}/extra.py"}
        listed = run_cli(restarted, "plugin", "list")
        assert "not loaded: changed since review" in listed_line(listed, name)
        assert f"mallow_{name}/extra.py" in listed
        assert f"changed since review: {name} 0.1.0" in run_cli(restarted, "plugin", "sync")
        assert _release(restarted, name).status == "approved"  # the record is kept, not overwritten

        # and the admin sees the changed files on the list and on the release's page
        _admin_id, email = make_admin(restarted)
        client = restarted.test_client()
        login_admin(client, email)
        listing = client.get("/admin/plugins").get_data(as_text=True)
        row = listing.split(f'id="state-{name}"', 1)[1].split("</tr>", 1)[0]
        assert "state-changed_since_review" in listing and f"mallow_{name}/__init__.py" in row
        release_id = _release(restarted, name).id
        page = client.get(f"/admin/plugins/{release_id}").get_data(as_text=True)
        changed = page.split('id="changed-since-review"', 1)[1].split("</section>", 1)[0]
        assert f"mallow_{name}/__init__.py" in changed.split('files-changed"', 1)[1].split("</ul>", 1)[0]
        assert f"mallow_{name}/extra.py" in changed.split('files-added"', 1)[1].split("</ul>", 1)[0]
        assert "再见" in page and "SECRET = 1" in page  # the source as it is now

        # when the files change again while the admin reads, approving what they read is refused
        digest = re.search(r'name="files_digest" value="([0-9a-f]+)"', page).group(1)
        (folder / "extra.py").write_text("SECRET = 2\n", encoding="utf-8")
        post_form(
            client,
            f"/admin/plugins/{release_id}/approve",
            {"files_digest": digest, "back": "release"},
            form_path=f"/admin/plugins/{release_id}",
        )
        assert f"mallow_{name}/extra.py" not in _release(restarted, name).files
        assert not _audit(restarted, "plugin.reapproved")

        # when the admin approves the files the page shows now, the approval holds for them
        page = client.get(f"/admin/plugins/{release_id}").get_data(as_text=True)
        assert "SECRET = 2" in page
        digest = re.search(r'name="files_digest" value="([0-9a-f]+)"', page).group(1)
        response = post_form(
            client,
            f"/admin/plugins/{release_id}/approve",
            {"files_digest": digest, "reason": "看过改动", "back": "release"},
            form_path=f"/admin/plugins/{release_id}",
        )
        assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/plugins/{release_id}")
        assert f"mallow_{name}/extra.py" in _release(restarted, name).files
        [(target, detail)] = _audit(restarted, "plugin.reapproved")
        assert target == f"plugin:{name}@0.1.0" and detail["reason"] == "看过改动"
        assert detail["changed"] == [f"mallow_{name}/__init__.py"] and detail["added"] == [f"mallow_{name}/extra.py"]
        # then the next start loads it again
        again = restart_app(app)
        assert name in again.extensions["mallow.loaded_plugins"] and name not in problems_of(again)
    finally:
        for other in (again, restarted):
            if other is not None:
                dispose_app(other, drop_database=False)
        dispose_app(app)


TWO_HOOKS = """
from mallow.sdk import hookimpl


@hookimpl
def mallow_template_slot(slot, context):
    return None


@hookimpl
def mallow_console_menu(store):
    return []
"""


def test_hooks_other_than_the_manifest_s_are_not_loaded_and_named(backend, fake_plugins, tmp_path_factory):
    from mallow.plugin_host.problems import problems_of

    # given two approved plugins: one implements a hook its manifest does not list, the other
    # lists a hook it does not implement, and a third that agrees with its manifest
    hidden, missing, honest = f"hidden_{backend}", f"missing_{backend}", f"honest_{backend}"
    fake_plugins.add(hidden, TWO_HOOKS, hooks=["mallow_template_slot"])
    fake_plugins.add(missing, TWO_HOOKS, hooks=["mallow_template_slot", "mallow_console_menu", "mallow_order_paid"])
    fake_plugins.add(honest, TWO_HOOKS, hooks=["mallow_console_menu", "mallow_template_slot"])
    app = plugin_app(tmp_path_factory, backend, [hidden, missing, honest])
    try:
        # then only the honest one is loaded; the others are not registered with the hooks at all
        loaded = app.extensions["mallow.loaded_plugins"]
        assert honest in loaded and hidden not in loaded and missing not in loaded
        manager = app.extensions["mallow.plugins"]
        assert manager.get_plugin(f"plugin:{hidden}") is None and manager.get_plugin(f"plugin:{missing}") is None
        problems = problems_of(app)
        assert problems[hidden].kind == "hooks_mismatch"
        assert "implemented but not in plugin.json: mallow_console_menu" in problems[hidden].message
        assert "in plugin.json but not implemented: mallow_order_paid" in problems[missing].message
        listed = run_cli(app, "plugin", "list")
        assert "not loaded: hooks mismatch: implemented but not in plugin.json: mallow_console_menu" in listed_line(
            listed, hidden
        )
        assert listed_line(listed, honest).endswith("loaded")
    finally:
        dispose_app(app)


def test_the_bundled_plugins_declare_exactly_their_hooks():
    import importlib

    import pluggy

    from mallow.plugin_host.admission import implemented_hooks
    from mallow.plugin_host.discovery import installed
    from mallow.plugins import hookspecs

    for name in ("groupbuy", "flashsale", "distribution"):
        manifest = installed()[name][1]
        manager = pluggy.PluginManager("mallow")
        manager.add_hookspecs(hookspecs)
        module = importlib.import_module(manifest.module)
        manager.register(module)
        hooks, unknown = implemented_hooks(manager, module)
        assert hooks == set(manifest.hooks) and not unknown, name


def _wheel(index: Path, package: str, files: dict[str, str]) -> tuple[str, dict[str, str]]:
    from mallow.plugin_host.fingerprint import file_hash

    project = package.replace("_", "-")
    (index / project).mkdir(parents=True, exist_ok=True)
    archive = f"{project}/{package}-0.0.9-py3-none-any.whl"
    recorded = {}
    with zipfile.ZipFile(index / archive, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(f"{package}/{path}", text)
            recorded[f"{package}/{path}"] = file_hash(text.encode("utf-8"))
    return archive, recorded


def test_the_review_page_shows_the_code_readable_and_what_changed(backend, fake_plugins, tmp_path_factory):
    from mallow.db import db
    from mallow.plugin_host.fingerprint import file_hash
    from mallow.plugin_host.models import PluginRelease

    # given a 满减 plugin installed at 0.1.0, whose 0.0.9 was uploaded and approved earlier
    name = f"manjian_{backend}"
    package = f"mallow_{name}"
    rules_now = "LIMIT = 20000  # 满200减20\n"
    template = '<p>{{ "<script>alert(1)</script>" }}</p>\n'
    folder = fake_plugins.add(
        name,
        GREETER,
        title={"zh_CN": "满减插件", "en": "Full reduction"},
        permissions=["pricing", "pricing.surcharge"],
        settings_schema={
            "type": "object",
            "properties": {"threshold": {"type": "integer", "title": "满多少元", "default": 200, "minimum": 1}},
        },
        files={"rules.py": rules_now, "templates/blocks/note.html": template},
    )
    app = plugin_app(tmp_path_factory, backend, [])
    try:
        index = Path(app.config["MALLOW_PLUGIN_INDEX"])
        archive, recorded = _wheel(index, package, {"__init__.py": GREETER, "rules.py": "LIMIT = 10000\n"})
        with app.app_context():
            db.session.add(
                PluginRelease(
                    name=name,
                    version="0.0.9",
                    manifest={"name": name, "version": "0.0.9", "module": package, "title": "满减插件"},
                    status="approved",
                    origin="uploaded",
                    archive=archive,
                    files=recorded,
                )
            )
            db.session.commit()
        run_cli(app, "plugin", "sync")
        _admin_id, email = make_admin(app)
        client = app.test_client()
        login_admin(client, email)
        release_id = _release(app, name).id
        assert f'href="/admin/plugins/{release_id}"' in client.get("/admin/plugins").get_data(as_text=True)

        # when the admin opens the release's review page
        page = client.get(f"/admin/plugins/{release_id}").get_data(as_text=True)

        # then the manifest and the settings schema read in Chinese, never as \u escapes
        assert "满减插件" in page and "满多少元" in page and "\\u" not in page
        manifest = page.split('class="manifest">', 1)[1].split("</pre>", 1)[0]
        assert "满减插件" in manifest and "threshold" in manifest
        # the permissions in words, where it is installed, every file with its hash and source
        assert "在结账时改价" in page and "(pricing.surcharge)" in page
        assert str(folder) in page
        assert f"{package}/rules.py" in page and file_hash(rules_now.encode()) in page
        assert f"{package}/plugin.json" in page and "<details" in page
        assert "LIMIT = 20000  # 满200减20" in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
        # what changed since the approved 0.0.9: the file list and a diff from its archive
        since = page.split('id="since-approved"', 1)[1].split("</section>", 1)[0]
        assert "0.0.9" in since and f"{package}/rules.py" in since and f"{package}/templates/blocks/note.html" in since
        assert "-LIMIT = 10000" in since and "+LIMIT = 20000" in since
        assert 'id="findings"' in page and 'name="files_digest"' in page

        # and the uploaded release's page reads its source from the archive in the index
        old = client.get(f"/admin/plugins/{_release(app, name, '0.0.9').id}").get_data(as_text=True)
        assert archive in old and "LIMIT = 10000" in old
    finally:
        dispose_app(app)


def test_the_demo_admin_approves_again_the_changed_files_of_a_bundled_plugin(fake_plugins, tmp_path_factory):
    """``mallow demo`` approves the bundled plugins: after an update changed their code under the same
    version, it approves their new files (audited) instead of leaving the demo store without them."""
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db
    from mallow.plugin_host.marketplace import approve_installed

    name = "bound_demo"
    folder = fake_plugins.add(name, GREETER)
    app = plugin_app(tmp_path_factory, "sqlite", [name])
    restarted = None
    try:
        (folder / "__init__.py").write_text(GREETER.replace("你好", "您好"), encoding="utf-8")
        with app.app_context():
            admin = db.session.get(PlatformAdmin, make_admin(app)[0])
            [again] = approve_installed([name], admin, "演示数据")
            assert again.name == name
        [(target, detail)] = _audit(app, "plugin.reapproved")
        assert target == f"plugin:{name}@0.1.0" and f"mallow_{name}/__init__.py" in detail["changed"]
        restarted = restart_app(app)
        assert name in restarted.extensions["mallow.loaded_plugins"]
    finally:
        dispose_app(restarted or app)
