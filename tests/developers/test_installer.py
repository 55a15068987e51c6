"""Installing an approved upload into the plugin environment: the previous version's files and
dist-info go (a file removed in the new version does not linger), the installed files are the
approved ones, and an archive that changed in the index after the upload is not installed (the
approval stands, the failure is audited, the previous version stays)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mallow.testing import build_app, dispose_app, make_admin

from .conftest import forget_plugin_environment, signup_developer, unique_name, upload, wheel_bytes

CODE = "from mallow.sdk import hookimpl\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = build_app(tmp_path_factory, "sqlite")
    make_admin(app)
    yield app
    forget_plugin_environment(app)
    dispose_app(app)


def _approve(app, release_id):
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db
    from mallow.plugin_host import marketplace
    from mallow.plugin_host.models import PluginRelease

    with app.app_context():
        admin = db.session.execute(db.select(PlatformAdmin).limit(1)).scalar_one()
        marketplace.approve(db.session.get(PluginRelease, release_id), admin, "ok")


def _audit(app, action, target):
    from mallow.audit import AuditEntry
    from mallow.db import db

    with app.app_context():
        return [
            e.detail
            for e in db.session.execute(db.select(AuditEntry).filter_by(action=action, target=target)).scalars()
        ]


def test_an_upgrade_replaces_the_previous_version_as_a_whole(app):
    from mallow.plugin_host.fingerprint import files_of

    client = app.test_client()
    _email, token = signup_developer(client)
    name = unique_name("inst")
    env = Path(app.config["MALLOW_PLUGIN_DIR"])
    one = upload(client, token, *wheel_bytes(name, "1.0.0", CODE, files={"old.py": "X = 1\n"})).get_json()["release"]
    _approve(app, one["id"])
    assert (env / f"mallow_{name}" / "old.py").is_file()
    two = upload(client, token, *wheel_bytes(name, "2.0.0", CODE + "# two\n")).get_json()["release"]
    assert (env / f"mallow_{name}" / "old.py").is_file()  # under review: version 1 stays installed
    _approve(app, two["id"])
    assert not (env / f"mallow_{name}" / "old.py").exists()
    assert [p.name for p in env.glob(f"mallow_{name}-*.dist-info")] == [f"mallow_{name}-2.0.0.dist-info"]
    assert "# two" in (env / f"mallow_{name}" / "__init__.py").read_text()
    with app.app_context():
        from mallow.db import db
        from mallow.plugin_host.models import PluginRelease

        assert files_of(env / f"mallow_{name}") == db.session.get(PluginRelease, two["id"]).files
    assert not list(env.glob(".staging-*")) and not list(env.glob(".old-*"))


def test_an_archive_changed_in_the_index_is_not_installed(app):
    client = app.test_client()
    _email, token = signup_developer(client)
    name = unique_name("inst")
    env = Path(app.config["MALLOW_PLUGIN_DIR"])
    one = upload(client, token, *wheel_bytes(name, "1.0.0", CODE)).get_json()["release"]
    _approve(app, one["id"])
    filename, data = wheel_bytes(name, "1.1.0", CODE + "# reviewed\n")
    two = upload(client, token, filename, data).get_json()["release"]
    # someone swaps the wheel in the index for another build between upload and approval
    _swapped_name, swapped = wheel_bytes(name, "1.1.0", CODE + "import os\nos.system('id')\n")
    (Path(app.config["MALLOW_PLUGIN_INDEX"]) / f"mallow-{name}" / filename).write_bytes(swapped)
    _approve(app, two["id"])
    failed = _audit(app, "plugin.install_failed", f"plugin:{name}@1.1.0")
    assert failed and "changed since it was uploaded" in failed[0]["error"]
    assert "os.system" not in (env / f"mallow_{name}" / "__init__.py").read_text()
    assert [p.name for p in env.glob(f"mallow_{name}-*.dist-info")] == [f"mallow_{name}-1.0.0.dist-info"]
