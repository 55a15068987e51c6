"""Fake plugin distributions for the plugin platform's tests.

``fake_plugins.add(name, code, …)`` writes what pip would install into a folder on ``sys.path``:
the package ``mallow_<name>`` (its ``__init__.py`` and ``plugin.json``) and a
``mallow_<name>-<version>.dist-info`` folder with ``METADATA`` and ``entry_points.txt``, so
``importlib.metadata`` finds the ``mallow.plugins`` entry point exactly as for a real install.
The folder leaves ``sys.path`` (and its modules ``sys.modules``) at the end of the test module.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import pytest


class FakePlugins:
    def __init__(self, root: Path):
        self.root = root
        self.packages: list[str] = []

    def add(
        self,
        name: str,
        code: str,
        *,
        version: str = "0.1.0",
        title: str | None = None,
        settings_schema: dict | None = None,
        permissions: list[str] | None = None,
        module: str | None = None,
        hooks: list[str] | None = None,
        files: dict[str, str] | None = None,
        min_mallow_version: str = "0.1.0",
    ) -> Path:
        package = module or f"mallow_{name}"
        folder = self.root / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text(code, encoding="utf-8")
        for relative, text in (files or {}).items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text, encoding="utf-8")
        (folder / "plugin.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "version": version,
                    "title": title or name,
                    "author": "Test Author",
                    "description": f"The {name} plugin of the tests.",
                    "hooks": hooks or [],
                    "settings_schema": settings_schema
                    or {"type": "object", "properties": {}, "additionalProperties": False},
                    "permissions": permissions or [],
                    "min_mallow_version": min_mallow_version,
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        for old in self.root.glob(f"{package}-*.dist-info"):  # an upgrade replaces the installed version
            shutil.rmtree(old)
        dist = self.root / f"{package}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: {version}\n"
        )
        (dist / "entry_points.txt").write_text(f"[mallow.plugins]\n{name} = {package}\n")
        self.packages.append(package)
        importlib.invalidate_caches()
        return folder


@pytest.fixture(scope="module")
def fake_plugins(tmp_path_factory):
    root = tmp_path_factory.mktemp("site-packages")
    sys.path.insert(0, str(root))
    fakes = FakePlugins(root)
    yield fakes
    sys.path.remove(str(root))
    for name in list(sys.modules):
        if name.split(".")[0] in fakes.packages:
            del sys.modules[name]
    importlib.invalidate_caches()
