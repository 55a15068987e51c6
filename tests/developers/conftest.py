"""Publishing tests: plugin wheels built in the test (a zip with the package, ``plugin.json``,
``entry_points.txt`` and a RECORD of hashes: what ``pip wheel`` makes, in a millisecond), a
developer account with an API token, and the plugin environment taken off ``sys.path`` (with
the plugins' modules) at the end of each test."""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import re
import sys
import uuid
import zipfile

import pytest

from mallow.testing import PASSWORD, backend_params, csrf_token


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def unique_name(prefix: str = "pub") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def wheel_bytes(
    name: str,
    version: str = "1.0.0",
    code: str = "",
    *,
    files: dict[str, str | bytes] | None = None,
    hooks: list[str] | None = None,
    permissions: list[str] | None = None,
    manifest: dict | None = None,
    entry_points: str | None = None,
    extra: dict[str, str | bytes] | None = None,
    dist: str | None = None,
) -> tuple[str, bytes]:
    """``(file name, bytes)`` of a plugin wheel; ``extra`` adds archive paths outside the package,
    ``manifest`` replaces ``plugin.json`` (``None`` values drop keys)."""
    package = f"mallow_{name}"
    dist = dist or package
    info = f"{dist}-{version}.dist-info"
    found_hooks = sorted(set(re.findall(r"@hookimpl\s*\n\s*def (mallow_\w+)", code)))
    data = {
        "name": name,
        "version": version,
        "title": {"zh_CN": f"插件 {name}", "en": f"Plugin {name}"},
        "author": "Third Party",
        "description": "发布测试插件",
        "hooks": hooks if hooks is not None else found_hooks,
        "settings_schema": {"type": "object", "properties": {}, "additionalProperties": False},
        "permissions": permissions or [],
        "min_mallow_version": "0.1.0",
    }
    if manifest is not None:
        data.update(manifest)
        data = {k: v for k, v in data.items() if v is not None}
    contents: dict[str, bytes] = {
        f"{package}/__init__.py": code.encode(),
        f"{package}/plugin.json": json.dumps(data, ensure_ascii=False).encode(),
    }
    for path, text in (files or {}).items():
        contents[f"{package}/{path}"] = text if isinstance(text, bytes) else text.encode()
    for path, text in (extra or {}).items():
        contents[path] = text if isinstance(text, bytes) else text.encode()
    contents[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    contents[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    contents[f"{info}/entry_points.txt"] = (
        entry_points if entry_points is not None else f"[mallow.plugins]\n{name} = {package}\n"
    ).encode()
    record = [f"{path},{record_hash(body)},{len(body)}" for path, body in contents.items()]
    contents[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, body in contents.items():
            archive.writestr(path, body)
    return f"{dist}-{version}-py3-none-any.whl", buffer.getvalue()


def upload(client, token: str, filename: str, data: bytes):
    return client.post(
        "/dev/api/releases",
        headers={"Authorization": f"Bearer {token}"},
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def signup_developer(client, email: str | None = None, name: str = "第三方开发者") -> tuple[str, str]:
    """A developer signed up through the console (signed in on ``client``) with an API token;
    returns ``(email, token)``."""
    email = email or f"dev-{uuid.uuid4().hex[:8]}@example.com"
    response = client.post(
        "/dev/signup",
        data={"email": email, "password": PASSWORD, "name": name, "csrf_token": csrf_token(client, "/dev/signup")},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    token = client.post("/dev/api/tokens", json={"email": email, "password": PASSWORD})
    assert token.status_code == 201, token.get_json()
    return email, token.get_json()["token"]


def forget_plugin_environment(app) -> None:
    """What a new process would not have: the plugin environment on ``sys.path`` and the modules
    imported from it."""
    folder = str(app.config["MALLOW_PLUGIN_DIR"])
    while folder in sys.path:
        sys.path.remove(folder)
    for module in list(sys.modules):
        path = getattr(sys.modules[module], "__file__", None) or ""
        if path.startswith(folder):
            del sys.modules[module]
    importlib.invalidate_caches()


@pytest.fixture(params=backend_params())
def backend(request):
    return request.param
