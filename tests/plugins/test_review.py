"""Review is the trust boundary: an installed plugin is imported only once a platform admin
approved its version, and then only at the next start."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from mallow.testing import (
    backend_params,
    bearer,
    dispose_app,
    login_admin,
    make_admin,
    plugin_app,
    post_form,
    restart_app,
)

MARKER_PLUGIN = """
from pathlib import Path

Path(__file__).with_name("imported.marker").write_text("the plugin's top-level code ran")
"""


def _releases(app, name):
    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    with app.app_context():
        return [
            (r.version, r.status, r.reason)
            for r in db.session.execute(db.select(PluginRelease).filter_by(name=name)).scalars()
        ]


def _audit(app, action):
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return [
            (e.target, e.actor_kind, e.detail)
            for e in db.session.execute(db.select(AuditEntry).filter_by(action=action)).scalars()
        ]


def _sync(app):
    from mallow.cli import main

    result = CliRunner().invoke(main, ["plugin", "sync"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    return result.output


def _admin_token(client, email):
    response = client.post("/api/tokens", json={"email": email, "password": "test-pass-123", "principal": "admin"})
    assert response.status_code == 201
    return response.get_json()["token"]


@pytest.fixture(params=backend_params())
def backend(request):
    return request.param


def test_an_unapproved_installed_plugin_is_never_imported(backend, fake_plugins, tmp_path_factory):
    # given a plugin installed on the server whose import leaves a marker
    name = f"marker_{backend}"
    folder = fake_plugins.add(name, MARKER_PLUGIN, title="标记插件")
    marker = folder / "imported.marker"
    app = plugin_app(tmp_path_factory, backend, [])
    later = None
    try:
        # when the platform starts, syncs it for review, and starts again: still never imported
        assert name not in app.extensions["mallow.loaded_plugins"]
        assert f"submitted for review: {name} 0.1.0" in _sync(app)
        assert _releases(app, name) == [("0.1.0", "submitted", None)]
        assert "no new plugin releases" in _sync(app)  # known versions are not recorded twice
        restarted = restart_app(app)
        assert name not in restarted.extensions["mallow.loaded_plugins"]
        assert not marker.exists()

        # when an admin rejects it (the reason is required), the next start still does not import it
        admin_id, email = make_admin(app)
        client = app.test_client()
        token = _admin_token(client, email)
        listed = client.get("/api/admin/plugins/releases?status=submitted", headers=bearer(token)).get_json()["items"]
        [release] = [r for r in listed if r["name"] == name]
        assert release["installed"] and not release["running"] and release["manifest"]["title"] == "标记插件"
        url = f"/api/admin/plugins/releases/{release['id']}"
        assert client.post(f"{url}/reject", json={"reason": ""}, headers=bearer(token)).status_code == 422
        rejected = client.post(f"{url}/reject", json={"reason": "读取了不该读的文件"}, headers=bearer(token))
        assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
        assert client.post(f"{url}/approve", json={}, headers=bearer(token)).status_code == 409  # decided
        assert name not in restart_app(app).extensions["mallow.loaded_plugins"] and not marker.exists()

        # when the developer's fixed version 0.2.0 is installed, synced and approved
        fake_plugins.add(name, MARKER_PLUGIN, version="0.2.0", title="标记插件")
        _sync(app)
        listed = client.get("/api/admin/plugins/releases", headers=bearer(token)).get_json()["items"]
        [fixed] = [r for r in listed if r["name"] == name and r["version"] == "0.2.0"]
        approved = client.post(
            f"/api/admin/plugins/releases/{fixed['id']}/approve", json={"reason": "看过代码"}, headers=bearer(token)
        )
        assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
        # then the running app has not imported it: approval takes effect at the next start
        assert not marker.exists() and name not in app.extensions["mallow.loaded_plugins"]
        later = restart_app(app)
        assert marker.exists()
        assert later.extensions["mallow.loaded_plugins"][name].version == "0.2.0"

        # and every decision is in the audit log, with its admin and reason
        assert (f"plugin:{name}@0.1.0", "admin", {"reason": "读取了不该读的文件"}) in _audit(app, "plugin.rejected")
        # (an approval holds for the files it saw: __init__.py and plugin.json)
        assert (f"plugin:{name}@0.2.0", "admin", {"reason": "看过代码", "files": 2}) in _audit(app, "plugin.approved")
        assert any(target == f"plugin:{name}@0.1.0" for target, _kind, _detail in _audit(app, "plugin.submitted"))
    finally:
        if later is not None:
            dispose_app(later, drop_database=False)
        dispose_app(app)


def test_admin_pages_review_releases_and_say_when_they_load(backend, fake_plugins, tmp_path_factory):
    name = f"paged_{backend}"
    fake_plugins.add(name, "", title={"zh_CN": "页面插件", "en": "Paged plugin"}, permissions=["pricing", "orders"])
    app = plugin_app(tmp_path_factory, backend, [])
    try:
        _sync(app)
        _admin_id, email = make_admin(app)
        client = app.test_client()
        login_admin(client, email)
        page = client.get("/admin/plugins")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert 'id="next-start-note"' in html and "页面插件" in html and "在结账时改价" in html
        [(release_id,)] = _ids(app, name)
        # a rejection needs a reason; without one nothing changes
        post_form(client, f"/admin/plugins/{release_id}/reject", {"reason": ""}, form_path="/admin/plugins")
        assert _releases(app, name)[0][1] == "submitted"
        # a form without its CSRF token is refused
        assert client.post(f"/admin/plugins/{release_id}/approve", data={}).status_code == 400
        response = post_form(client, f"/admin/plugins/{release_id}/approve", {"reason": ""}, form_path="/admin/plugins")
        assert response.status_code == 303
        html = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "下次启动" in html  # "loaded at the next start"
        assert _releases(app, name)[0][1] == "approved"
        # withdrawing needs a reason too
        post_form(client, f"/admin/plugins/{release_id}/withdraw", {"reason": "发现问题"}, form_path="/admin/plugins")
        assert _releases(app, name) == [("0.1.0", "withdrawn", "发现问题")]
        # only platform admins reach the review
        assert app.test_client().get("/admin/plugins").status_code in (302, 303)
    finally:
        dispose_app(app)


def test_a_plugin_for_a_newer_mallow_is_not_loaded_and_says_why(backend, fake_plugins, tmp_path_factory, caplog):
    from mallow.cli import main
    from mallow.plugin_host.discovery import mallow_version

    # given an approved plugin that needs a newer Mallow than this one (and one that does not)
    name, fits = f"future_{backend}", f"present_{backend}"
    fake_plugins.add(
        name,
        "raise SystemExit('a plugin for a newer Mallow was imported')",
        title="未来插件",
        min_mallow_version="999.0",
    )
    fake_plugins.add(fits, "", title="现在插件", min_mallow_version=mallow_version())
    with caplog.at_level(logging.WARNING, logger="mallow.plugins"):
        app = plugin_app(tmp_path_factory, backend, [name, fits])
    try:
        # then the start-up skips it, and says so in the log
        loaded = app.extensions["mallow.loaded_plugins"]
        assert name not in loaded and fits in loaded
        assert any(name in r.getMessage() and "999.0" in r.getMessage() for r in caplog.records)
        # and `mallow plugin list` says why it is not loaded
        listed = CliRunner().invoke(main, ["plugin", "list"], obj=ScriptInfo(create_app=lambda: app))
        lines = {line.split()[0]: line for line in listed.output.splitlines() if line.strip()}
        assert "approved" in lines[name]
        assert f"not loaded: needs Mallow 999.0 or newer (this is {mallow_version()})" in lines[name]
        assert lines[fits].endswith("loaded") and "needs Mallow" not in lines[fits]
        # and so does the admin's review page, instead of promising it for the next start
        _admin_id, email = make_admin(app)
        client = app.test_client()
        login_admin(client, email)
        html = client.get("/admin/plugins").get_data(as_text=True)
        section = html.split(f'id="release-{name}-0.1.0"', 1)[1].split("</section>", 1)[0]
        assert 'class="too-new"' in section and "999.0" in section and mallow_version() in section
        assert "next-start" not in section
        fitting = html.split(f'id="release-{fits}-0.1.0"', 1)[1].split("</section>", 1)[0]
        assert "too-new" not in fitting
    finally:
        dispose_app(app)


def _ids(app, name):
    from mallow.db import db
    from mallow.plugin_host.models import PluginRelease

    with app.app_context():
        return db.session.execute(db.select(PluginRelease.id).filter_by(name=name)).all()


def test_a_manifest_outside_the_mallow_namespace_is_not_recorded(fake_plugins, tmp_path_factory):
    fake_plugins.add("outsider", "raise SystemExit('never imported')", module="outsider_pkg")
    app = plugin_app(tmp_path_factory, "sqlite", [])
    try:
        output = _sync(app)
        assert "skipped outsider" in output and "mallow_" in output
        assert _releases(app, "outsider") == []
    finally:
        dispose_app(app)


@pytest.mark.parametrize("backend", backend_params())
def test_the_demo_approves_the_bundled_plugins_like_any_other(tmp_path_factory, backend):
    from mallow.cli import main
    from mallow.plugin_host.discovery import Manifest, installed

    bundled = ("groupbuy", "flashsale", "distribution")
    assert all(isinstance(installed()[name][1], Manifest) for name in bundled)  # manifests readable
    app = plugin_app(tmp_path_factory, backend, [])  # its own app: the demo loads the plugins into it
    try:
        result = CliRunner().invoke(main, ["demo"], obj=ScriptInfo(create_app=lambda: app))
        assert result.exit_code == 0, result.output
        for name in bundled:
            assert [status for _version, status, _reason in _releases(app, name)] == ["approved"]
        assert any(
            target.startswith("plugin:groupbuy@") and kind == "admin"
            for target, kind, _detail in _audit(app, "plugin.approved")
        )
    finally:
        dispose_app(app)
