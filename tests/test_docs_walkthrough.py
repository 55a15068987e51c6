"""docs/plugins.md's walkthrough, run as a newcomer would run it.

The guide's first section takes a plugin from ``mallow plugin new`` to a published, approved
plugin that a merchant enabled and a shopper sees at work. Its runnable code blocks are marked
with ``<!-- walkthrough -->`` on the line before the fence; this test runs them **in order in one
bash session**, so the guide cannot drift from what Mallow does. A block marked
``<!-- walkthrough: restart -->`` is where the reader restarts their server: the test restarts
the live Mallow it started instead of running the block's text.

What the test prepares is what the guide says a reader has: a running platform (here a real
``mallow serve`` on the embedded SQLite default, or on a fresh PostgreSQL database, with
``mallow demo``'s store and merchant and an admin made with ``mallow create-admin``), a developer
account signed up in the browser (the test posts the sign-up form), and the variables the guide
lists (``MALLOW_URL``, ``DEVELOPER_EMAIL``…). The developer's machine is a separate virtual
environment on top of Mallow's, so the plugin the reader ``pip install -e``'s for its tests is not
in the platform's environment: the platform gets it only by publishing, as a third party's would.
Everything works offline (pip builds without an index, with the setuptools Mallow has).

Afterwards the test checks what a user would notice: the release is approved and its review
page lists the files with their hashes, the restarted platform loaded the plugin, the demo store
has it on, and a new shopper's quote carries the 满减.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from mallow.testing import backend_params, drop_postgres_database, fresh_postgres_database

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
BIN = Path(sys.executable).parent  # the venv Mallow is installed in
# a marked block, and the one-line output the guide shows right after it (checked when present)
MARKED = re.compile(
    r"^<!-- walkthrough(?:: (?P<kind>[a-z]+))? -->\n```(?:bash)?\n(?P<code>.*?)^```\n"
    r"(?:\n```text\n(?P<shown>[^\n]*)\n```\n)?",
    re.M | re.S,
)
PASSWORD = "Walkthrough-2024"
DEVELOPER = "lilei@example.com"
ADMIN = "reviewer@example.com"
BLOCK_SECONDS = 120  # one block (the scaffold's own tests are the slowest)


def walkthrough_blocks(text: str) -> list[tuple[str, str, int, str | None]]:
    """``(kind, code, line, shown)`` of every marked block, in order: kind ``run`` or
    ``restart``, ``shown`` the one-line output the guide prints after it (or None)."""
    return [
        (m.group("kind") or "run", m.group("code"), text.count("\n", 0, m.start()) + 1, m.group("shown"))
        for m in MARKED.finditer(text)
    ]


def test_the_guide_marks_its_walkthrough_blocks():
    blocks = walkthrough_blocks(GUIDE.read_text())
    kinds = {kind for kind, *_rest in blocks}
    assert kinds <= {"run", "restart"}, kinds
    text = "\n".join(code for _kind, code, *_rest in blocks)
    for step in ("mallow plugin new", "pytest", "/dev/api/tokens", "mallow plugin publish", "/approve", "/enable"):
        assert step in text, f"the walkthrough's runnable blocks lack {step!r}"
    assert [kind for kind, *_rest in blocks].count("restart") == 1
    assert sum(1 for *_rest, shown in blocks if shown) >= 3, "the guide shows what the blocks print"


# --- the platform: a live Mallow ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _clean_environment() -> dict:
    """The test runner's environment without Mallow's, pytest's or pip's settings."""
    prefixes = ("MALLOW_", "PYTEST", "PIP_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "VIRTUAL_ENV", "PYTHON")
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


class Platform:
    """``mallow serve`` in a subprocess on its own data directory (and database)."""

    def __init__(self, folder: Path, database_url: str):
        self.folder, self.port = folder, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = _clean_environment() | {
            "MALLOW_DATA_DIR": str(folder / "data"),
            "SECRET_KEY": "walkthrough-secret-key-not-for-production",
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "MALLOW_PUBLIC_URL": self.url,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.process: subprocess.Popen | None = None
        self.log = folder / "server.log"

    def mallow(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "mallow"), *args], env=self.env, cwd=self.folder, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"mallow {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [str(BIN / "mallow"), "serve", "--port", str(self.port), "--threads", "4"],
                env=self.env,
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"mallow serve stopped:\n{self.log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise AssertionError(f"mallow serve did not answer:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Browser:
    """Forms with their CSRF token and a cookie jar, as a browser posts them."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post_form(self, path: str, fields: dict) -> int:
        _status, page = self.get(path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, f"no CSRF token on {path}"
        body = urllib.parse.urlencode({"csrf_token": token.group(1), **fields}).encode()
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code


def _api(base: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


# --- the developer's machine: a shell in their own environment --------------------------------


def _developer_environment(folder: Path) -> Path:
    """A virtual environment on top of Mallow's (its packages through a ``.pth``), with its own
    ``mallow``, ``pytest`` and ``pip``: what the developer installs lands here, not in Mallow's."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    [site] = (venv / "lib").glob("python*/site-packages")
    [mallow_site] = (BIN.parent / "lib").glob("python*/site-packages")
    (site / "_mallow_environment.pth").write_text(f"import site; site.addsitedir({str(mallow_site)!r})\n")
    for script in ("mallow", "pytest", "pip"):
        body = (BIN / script).read_text().split("\n", 1)[1]
        (venv / "bin" / script).write_text(f"#!{venv / 'bin' / 'python'}\n{body}")
        (venv / "bin" / script).chmod(0o755)
    return venv


class Shell:
    """One bash session; each block runs in it with stdin closed, then reports its exit code."""

    def __init__(self, cwd: Path, env: dict):
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.transcript: list[str] = []

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, code: str, where: str) -> list[str]:
        """Run ``code``; its output lines (the test fails when it exits non-zero)."""
        marker = f"__walkthrough_block_done__{time.monotonic_ns()}"
        self.transcript.append(f"$ # {where}\n{code}")
        self.process.stdin.write(f'{{\n{code}\n}} < /dev/null\necho "{marker} $?"\n')
        self.process.stdin.flush()
        deadline = time.monotonic() + BLOCK_SECONDS
        printed: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{where} took over {BLOCK_SECONDS} s:\n{self.output()}") from None
            if line is None:
                raise AssertionError(f"{where} ended the shell:\n{self.output()}")
            if line.startswith(marker):
                status = int(line.split()[-1])
                assert status == 0, f"{where} failed (exit {status}):\n{self.output()}"
                return printed
            printed.append(line.rstrip("\n"))
            self.transcript.append(printed[-1])

    def output(self) -> str:
        return "\n".join(self.transcript)[-6000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(params=backend_params())
def platform(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("walkthrough-platform")
    database_url = fresh_postgres_database() if request.param == "postgresql" else ""
    platform = Platform(folder, database_url)
    try:
        platform.mallow("db", "upgrade")
        platform.mallow("create-admin", "--email", ADMIN, "--name", "Reviewer", "--password", PASSWORD)
        platform.mallow("demo")
        platform.start()
        yield platform
    finally:
        platform.stop()
        if database_url:
            drop_postgres_database(database_url)


def test_the_walkthrough_runs_from_plugin_new_to_a_discount_a_shopper_sees(platform, tmp_path):
    started = time.monotonic()
    # a developer account, signed up in the browser as the guide says
    assert Browser(platform.url).post_form(
        "/dev/signup", {"email": DEVELOPER, "password": PASSWORD, "name": "李雷"}
    ) in (200, 303)
    venv = _developer_environment(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = _clean_environment() | {
        "HOME": str(home),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        # offline: pip builds with the setuptools the environment has and looks at no index
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # what the guide asks the reader to set
        "MALLOW_URL": platform.url,
        "DEVELOPER_EMAIL": DEVELOPER,
        "DEVELOPER_PASSWORD": PASSWORD,
        "ADMIN_EMAIL": ADMIN,
        "ADMIN_PASSWORD": PASSWORD,
        "MERCHANT_EMAIL": "merchant@mallow.demo",
        "MERCHANT_PASSWORD": "mallow-demo-2026",
        "STORE": "demo",
    }
    shell = Shell(home, env)
    try:
        shell.run("set -euo pipefail", "strict mode")
        blocks = walkthrough_blocks(GUIDE.read_text())
        assert blocks, "docs/plugins.md marks no walkthrough blocks"
        for kind, code, line, shown in blocks:
            if kind == "restart":
                platform.restart()
                continue
            printed = shell.run(code, f"docs/plugins.md:{line}")
            if shown:  # the output the guide shows is what the block printed
                assert shown in printed, f"docs/plugins.md:{line} shows {shown!r}, the block printed {printed}"
    finally:
        shell.close()

    # the release is approved, and its review page showed the files with their hashes
    admin = Browser(platform.url)
    assert admin.post_form("/admin/login", {"email": ADMIN, "password": PASSWORD}) in (200, 302, 303)
    token = _api(platform.url, "POST", "/api/tokens", body={"email": ADMIN, "password": PASSWORD, "principal": "admin"})
    releases = _api(platform.url, "GET", "/api/admin/plugins/releases", token["token"])["items"]
    [release] = [r for r in releases if r["name"] == "full_reduction"]
    assert (release["version"], release["status"]) == ("0.1.0", "approved")
    status, page = admin.get(f"/admin/plugins/{release['id']}")
    assert status == 200
    assert "mallow_full_reduction/__init__.py" in page and "sha256=" in page
    assert "满减优惠" in page and "李雷" in page  # the manifest, Chinese as Chinese

    # the restarted platform loaded it from its plugin environment
    listed = platform.mallow("plugin", "list")
    assert re.search(r"^full_reduction\s+0\.1\.0\s+approved\s+loaded", listed, re.M), listed
    assert (Path(platform.env["MALLOW_DATA_DIR"]) / "plugins" / "mallow_full_reduction" / "plugin.json").exists()

    # the demo store has it on, and a new shopper's quote carries the reduction, credited to it
    merchant = _api(
        platform.url, "POST", "/api/tokens", body={"email": env["MERCHANT_EMAIL"], "password": env["MERCHANT_PASSWORD"]}
    )
    listing = _api(platform.url, "GET", "/s/demo/api/console/plugins/full_reduction", merchant["token"])
    assert listing["enabled"] is True and listing["store_count"] == 1
    shopper = _api(
        platform.url,
        "POST",
        "/s/demo/api/customers",
        body={"login": "later@example.com", "password": PASSWORD, "privacy_consent": True},
    )
    sku = _api(platform.url, "GET", "/s/demo/api/products/2")["skus"][0]
    quote = _api(
        platform.url,
        "POST",
        "/s/demo/api/checkout/quote",
        shopper["token"],
        {"items": [{"sku_id": sku["id"], "quantity": 3}]},
    )
    reductions = [a for a in quote["adjustments"] if a["source"] == "full_reduction"]
    assert [(a["stage"], a["amount"]) for a in reductions] == [("order", -1500)], quote
    assert quote["total"] == quote["items_total"] + sum(a["amount"] for a in quote["adjustments"])
    assert time.monotonic() - started < 150, "the walkthrough got slow: keep it bounded"
