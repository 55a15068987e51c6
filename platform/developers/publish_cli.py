"""``mallow plugin publish``: build the plugin's wheel offline and upload it to the platform.

Run in the plugin's folder (what ``mallow plugin new`` made). The folder is copied to a temporary
place first (without ``build/``, ``dist/``, ``*.egg-info``, caches and VCS folders), so files
left in an old ``build/`` by setuptools never slip into the wheel, and built with this
interpreter's pip: ``pip wheel --no-deps --no-build-isolation --no-index`` (nothing is fetched,
setuptools and wheel come from the environment). The wheel is posted to
``<url>/dev/api/releases`` with the developer's token; the answer (status, what changed since
the last approved version, or the field errors) is printed.

Nothing here runs inside the platform: the upload goes over HTTP, through ``transport`` (urllib
by default; tests hand in their own).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

#: ``transport(method, url, headers, body) -> (status, JSON answer)``
Transport = Callable[[str, str, dict, bytes | None], tuple[int, dict]]
#: left out everywhere, and (``TOP_LEVEL``) in the plugin's folder itself: what earlier builds left
EVERYWHERE = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".hg", ".venv", ".tox", ".pytest_cache")
TOP_LEVEL = shutil.ignore_patterns("build", "dist", "*.egg-info")


class PublishError(Exception):
    pass


def build_wheel(folder: Path, out: Path, python: str = sys.executable) -> Path:
    """Build ``folder``'s wheel into ``out`` and return its path; raises :class:`PublishError`
    with pip's output when the build fails."""
    folder = Path(folder).resolve()
    if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
        raise PublishError(f"{folder} has no pyproject.toml: run `mallow plugin publish` in the plugin's folder")
    with tempfile.TemporaryDirectory(prefix="mallow-publish-") as scratch:
        source = Path(scratch) / folder.name
        shutil.copytree(
            folder,
            source,
            ignore=lambda where, names: (
                EVERYWHERE(where, names) | (TOP_LEVEL(where, names) if Path(where) == folder else set())
            ),
        )
        command = [python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
        done = subprocess.run(
            [*command, "-w", str(out), str(source)], capture_output=True, text=True, timeout=600, check=False
        )
        if done.returncode != 0:
            raise PublishError(f"building the wheel failed:\n{done.stdout}{done.stderr}".strip())
    wheels = sorted(Path(out).glob("*.whl"), key=lambda path: path.stat().st_mtime)
    if not wheels:
        raise PublishError("pip built no wheel")
    return wheels[-1]


def urllib_transport(method: str, url: str, headers: dict, body: bytes | None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 (the platform's URL, given by the developer)
            return answer.status, _json(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())
    except urllib.error.URLError as error:
        raise PublishError(f"cannot reach {url}: {error.reason}") from None


def _json(data: bytes) -> dict:
    try:
        found = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"message": data[:300].decode("utf-8", "replace")}
    return found if isinstance(found, dict) else {"message": str(found)}


def multipart(field: str, filename: str, data: bytes) -> tuple[str, bytes]:
    """``(content type, body)`` of a form with one file."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", head + data + f"\r\n--{boundary}--\r\n".encode()


def terminal_language() -> str:
    """The developer's language, from the terminal's locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``):
    the platform answers the upload's field errors in it (Chinese for ``zh_*``, else English)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "zh-CN" if value.lower().startswith("zh") else "en"
    return "en"


def upload(url: str, token: str, wheel: Path, transport: Transport = urllib_transport) -> tuple[int, dict]:
    content_type, body = multipart("file", wheel.name, wheel.read_bytes())
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": content_type,
        "Accept": "application/json",
        "Accept-Language": terminal_language(),
    }
    return transport("POST", url.rstrip("/") + "/dev/api/releases", headers, body)


def describe(status: int, answer: dict) -> list[str]:
    """What the developer reads after an upload."""
    if status == 201:
        release = answer["release"]
        lines = [f"uploaded {release['name']} {release['version']}: {release['status']} (review #{release['id']})"]
        changes = release.get("changes") or {}
        base = changes.get("base")
        lines.append(f"changes since approved {base}:" if base else "files (no version approved before):")
        for kind in ("added", "changed", "removed"):
            lines.extend(f"  {kind:<8} {path}" for path in changes.get(kind, []))
        lines.append("a platform admin reviews it; stores keep your last approved version until then")
        return lines
    if status == 401:
        return ["the platform refused the token: create one in the developer console (API tokens)"]
    lines = [f"upload refused ({status}): {answer.get('message', '')}".rstrip(": ")]
    for field, error in (answer.get("fields") or {}).items():
        lines.append(f"  {field}: {error.get('message')}")
    return lines


def publish(
    folder: Path, url: str, token: str, echo: Callable[[str], None], transport: Transport = urllib_transport
) -> bool:
    """Build, upload and report; True when the platform accepted the upload."""
    if not token:
        raise PublishError("no token: pass --token or set MALLOW_DEVELOPER_TOKEN (developer console → API tokens)")
    with tempfile.TemporaryDirectory(prefix="mallow-wheel-") as out:
        wheel = build_wheel(Path(folder), Path(out))
        echo(f"built {wheel.name}")
        status, answer = upload(url, token, wheel, transport)
    for line in describe(status, answer):
        echo(line)
    return status == 201
