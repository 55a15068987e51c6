"""The static check the loader runs before importing a plugin: reaching Mallow beyond the SDK or
another plugin is refused, what a reviewer must look at is shown, and the bundled plugins pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from mallow.plugin_host.inspection import blocking, scan

ROOT = Path(__file__).resolve().parents[2]


def codes(findings, *, blocking_only=False):
    return {(f.path, f.code) for f in findings if f.blocking or not blocking_only}


@pytest.mark.parametrize(
    "line",
    [
        "from mallow.db import db",
        "import mallow.db",
        "from mallow import db",
        "from mallow.tenants.context import store_context",
        "from mallow.security.crypto import decrypt",
        "import mallow",
        "from mallow.sdk.testing import make_store",
    ],
)
def test_importing_mallow_beyond_the_sdk_is_blocking(fake_plugins, line):
    folder = fake_plugins.add("reacher", f"{line}\n")
    findings = blocking(scan(folder))
    assert [(f.path, f.line, f.code) for f in findings] == [("__init__.py", 1, "import_core")]
    assert "mallow" in str(findings[0].message)


def test_the_sdk_and_its_own_modules_are_fine(fake_plugins):
    folder = fake_plugins.add(
        "honest",
        "from mallow.sdk import db, hookimpl\nfrom mallow.sdk.blocks import text\n"
        "from mallow_honest.models import Thing\nfrom . import models\nimport sqlalchemy as sa\n",
        files={"models.py": "Thing = 1\n", "tests/test_it.py": "from mallow.sdk.testing import make_store\n"},
    )
    assert scan(folder) == []


def test_another_plugins_package_and_dynamic_imports_are_blocking(fake_plugins):
    folder = fake_plugins.add(
        "sneaky",
        "import importlib\n"
        "from mallow_groupbuy.models import Campaign\n"
        "importlib.import_module('mallow.tenants.context')\n"
        "__import__('mallow_flashsale')\n"
        "name = 'mallow' + '.db'\n"
        "importlib.import_module(name)\n"
        "importlib.import_module('.helpers', __name__)\n",
        files={"helpers.py": "x = (\n"},
    )
    found = [(f.path, f.line, f.code) for f in blocking(scan(folder))]
    assert found == [
        ("__init__.py", 2, "import_plugin"),
        ("__init__.py", 3, "import_core"),
        ("__init__.py", 4, "import_plugin"),
        ("__init__.py", 6, "import_dynamic"),
        ("helpers.py", 1, "syntax"),
    ]


def test_what_a_reviewer_must_look_at_is_notable_not_blocking(fake_plugins):
    folder = fake_plugins.add(
        "curious",
        "import os, sqlite3, subprocess, pickle, socket, ctypes\n"
        "from flask import current_app\n"
        "from sqlalchemy import create_engine\n"
        "def go(path):\n"
        "    key = current_app.config['SECRET_KEY']\n"
        "    os.environ.get('DATABASE_URL')\n"
        "    os.system('ls')\n"
        "    create_engine('sqlite:///x')\n"
        "    eval('1')\n"
        "    open(path).read()\n"
        "    current_app.extensions['sqlalchemy']\n"
        "    current_app.extensions.get('mallow_curious.cache')\n"
        "    return go.__globals__\n",
        files={"templates/leak.html": "<p>{{ config.SECRET_KEY }}</p>\n"},
    )
    findings = scan(folder)
    assert blocking(findings) == []
    found = {(f.line, f.code) for f in findings if f.path == "__init__.py"}
    assert found >= {
        (1, "database_driver"),
        (1, "process"),
        (1, "pickle"),
        (1, "network"),
        (1, "native"),
        (3, "database_driver"),
        (5, "platform_config"),
        (6, "environment"),
        (7, "process"),
        (8, "database_driver"),
        (9, "eval"),
        (10, "file"),
        (11, "platform_state"),
        (13, "introspection"),
    }
    assert (12, "platform_state") not in found  # its own key in the shared extensions
    assert ("templates/leak.html", 1, "platform_config") in {(f.path, f.line, f.code) for f in findings}
    assert "SECRET_KEY" in {str(f.message).rsplit(": ", 1)[-1] for f in findings if f.line == 5}


def test_compiled_code_cannot_be_reviewed(fake_plugins):
    folder = fake_plugins.add("opaque", "from . import fast\n")
    (folder / "fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    assert codes(scan(folder), blocking_only=True) == {("fast.cpython-311-x86_64-linux-gnu.so", "compiled")}


def test_findings_render_for_the_review_page(fake_plugins):
    folder = fake_plugins.add("shown", "from mallow.db import db\n")
    assert scan(folder)[0].as_dict() == {
        "path": "__init__.py",
        "line": 1,
        "code": "import_core",
        "message": "imports Mallow beyond its SDK: mallow.db (only mallow.sdk is allowed)",
        "blocking": True,
    }


@pytest.mark.parametrize("name", ["groupbuy", "flashsale", "distribution"])
def test_the_bundled_plugins_pass_with_their_notable_findings_explained(name):
    findings = scan(ROOT / "plugins" / name)
    assert blocking(findings) == []
    # what is left for the reviewer: the platform settings they read (a Redis URL, a rate cap, the
    # time zone) and flash sale's use of inspect; nothing reaches a database or a process
    assert {f.code for f in findings} <= {"platform_config", "introspection"}
