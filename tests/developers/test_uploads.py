"""What a developer may upload: bad distributions are refused with a message on the ``file``
field (console and API), names belong to whoever published them first (the platform owns its
own), and the platform's simple index serves only approved files, with their SHA-256."""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from mallow.testing import bearer, build_app, csrf_token, dispose_app, make_admin

from .conftest import signup_developer, unique_name, upload, wheel_bytes

CODE = "from mallow.sdk import hookimpl\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = build_app(tmp_path_factory, "sqlite")
    make_admin(app)
    yield app
    dispose_app(app)


def _refused(response, code: str) -> str:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:300])
    field = response.get_json()["fields"]["file"]
    assert field["code"] == code, field
    return field["message"]


def _wheel_with(name, **changes):
    return wheel_bytes(name, "1.0.0", CODE, **changes)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("not_a_zip", "not_a_wheel"),
        ("not_whl", "not_a_wheel"),
        ("no_entry_point", "no_entry_point"),
        ("no_manifest", "no_manifest"),
        ("broken_manifest", "bad_manifest"),
        ("manifest_other_name", "bad_manifest"),
        ("package_outside_namespace", "bad_package"),
        ("foreign_top_level_file", "foreign_files"),
        ("hash_mismatch", "bad_record"),
        ("path_traversal", "unsafe_path"),
        ("platform_wheel", "not_pure_python"),
        ("too_big", "too_large"),
    ],
)
def test_a_bad_upload_is_refused_with_a_field_error(app, case, code):
    client = app.test_client()
    _email, token = signup_developer(client)
    name = unique_name("bad")
    filename, data = _wheel_with(name)
    if case == "not_a_zip":
        data = b"this is not a zip archive"
    elif case == "not_whl":
        filename = filename.replace(".whl", ".tar.gz")
    elif case == "no_entry_point":
        filename, data = _wheel_with(name, entry_points="[console_scripts]\nx = y\n")
    elif case == "no_manifest":
        filename, data = _rebuild_without(filename, data, f"mallow_{name}/plugin.json")
    elif case == "broken_manifest":
        filename, data = _wheel_with(name, files={"plugin.json": "{not json"})
    elif case == "manifest_other_name":
        filename, data = _wheel_with(name, manifest={"name": "someone_else"})
    elif case == "package_outside_namespace":
        filename, data = _wheel_with(name, entry_points=f"[mallow.plugins]\n{name} = evil_{name}\n")
    elif case == "foreign_top_level_file":
        filename, data = _wheel_with(name, extra={"sitecustomize.py": "import os\n"})
    elif case == "hash_mismatch":
        filename, data = _tamper(filename, data, f"mallow_{name}/__init__.py")
    elif case == "path_traversal":
        filename, data = _wheel_with(name, extra={f"mallow_{name}/../../evil.py": "x = 1\n"})
    elif case == "platform_wheel":
        filename = filename.replace("-none-any", "-cp311-manylinux_x86_64")
    elif case == "too_big":
        filename, data = _wheel_with(name, files={"blob.bin": bytes(range(256)) * 41000})
        data = data + b"\0" * (10 * 1024 * 1024 + 1 - len(data))
    # through the API
    message = _refused(upload(client, token, filename, data), code)
    assert message
    # and through the console form: the same message beside the field, 422
    page = client.post(
        "/dev/upload",
        data={"file": (io.BytesIO(data), filename), "csrf_token": csrf_token(client, "/dev/upload")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    assert 'data-field="file"' in page.get_data(as_text=True)


def _rebuild_without(filename, data, path):
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == path:
                continue
            if item.filename.endswith("RECORD"):
                body = b"\n".join(line for line in body.split(b"\n") if not line.startswith(path.encode()))
            archive.writestr(item.filename, body)
    return filename, out.getvalue()


def _tamper(filename, data, path):
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            body = source.read(item)
            archive.writestr(item.filename, body + b"# edited after build\n" if item.filename == path else body)
    return filename, out.getvalue()


def test_a_version_is_uploaded_once_and_a_name_belongs_to_its_first_publisher(app):
    first, second = app.test_client(), app.test_client()
    _e1, token1 = signup_developer(first)
    _e2, token2 = signup_developer(second)
    name = unique_name("own")
    assert upload(first, token1, *wheel_bytes(name, "1.0.0", CODE)).status_code == 201
    # the same version again
    _refused(upload(first, token1, *wheel_bytes(name, "1.0.0", CODE + "# new\n")), "version_taken")
    # another developer cannot publish over the name, not even a new version
    _refused(upload(second, token2, *wheel_bytes(name, "9.0.0", CODE)), "name_taken")
    # the platform's own plugins are taken too
    _refused(upload(second, token2, *wheel_bytes("groupbuy", "9.0.0", CODE)), "name_taken")
    # the owner goes on publishing
    assert upload(first, token1, *wheel_bytes(name, "1.0.1", CODE)).status_code == 201
    # each sees only their own releases
    assert {r["version"] for r in first.get("/dev/api/releases", headers=bearer(token1)).get_json()["releases"]} == {
        "1.0.0",
        "1.0.1",
    }
    assert second.get("/dev/api/releases", headers=bearer(token2)).get_json()["releases"] == []
    mine = first.get("/dev/api/releases", headers=bearer(token1)).get_json()["releases"][0]["id"]
    assert second.get(f"/dev/api/releases/{mine}", headers=bearer(token2)).status_code == 404
    assert second.get(f"/dev/releases/{mine}").status_code == 404


def test_the_simple_index_lists_only_approved_files_with_their_sha256(app):
    from mallow.accounts.models import PlatformAdmin
    from mallow.db import db
    from mallow.plugin_host import marketplace
    from mallow.plugin_host.models import PluginRelease

    client = app.test_client()
    _email, token = signup_developer(client)
    name = unique_name("idx")
    project = f"mallow-{name}"
    approved_name, approved = wheel_bytes(name, "1.0.0", CODE)
    pending_name, pending = wheel_bytes(name, "1.1.0", CODE + "# pending\n")
    first = upload(client, token, approved_name, approved).get_json()["release"]
    upload(client, token, pending_name, pending)
    assert client.get(f"/simple/{project}/").status_code == 404  # nothing approved yet
    with app.app_context():
        admin = db.session.execute(db.select(PlatformAdmin).limit(1)).scalar_one()
        marketplace.approve(db.session.get(PluginRelease, first["id"]), admin, "ok")

    assert f'href="/simple/{project}/"' in client.get("/simple/").get_data(as_text=True)
    page = client.get(f"/simple/{project}/").get_data(as_text=True)
    links = re.findall(r'href="([^"]+)#sha256=([0-9a-f]{64})"', page)
    assert links == [(f"/simple/{project}/{approved_name}", hashlib.sha256(approved).hexdigest())]
    assert client.get(links[0][0]).data == approved
    assert client.get(f"/simple/{project}/{pending_name}").status_code == 404
    # a name as pip may spell it redirects to the normalized one
    assert client.get(f"/simple/Mallow_{name}/").status_code == 301
