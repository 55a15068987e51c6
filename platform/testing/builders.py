"""Throwaway plugins for tests: what ``pip install`` would leave in site-packages, written in a
temp folder in a millisecond, so every test of plugin behaviour starts from a plugin it builds.

``PluginBuilder(root).add(name, code, …)`` writes the package ``mallow_<name>`` (its
``__init__.py``, ``plugin.json`` and any other ``files``) and a ``mallow_<name>-<version>.dist-info``
folder with ``METADATA`` and ``entry_points.txt``: ``importlib.metadata`` then finds the
``mallow.plugins`` entry point exactly as for a real install, and Mallow syncs, reviews and loads
it the usual way. :func:`build_plugin` puts such a folder on ``sys.path`` for a block (a pytest
fixture's life) and takes it, and every module imported from it, away afterwards::

    @pytest.fixture(scope="module")
    def plugins(tmp_path_factory):
        with build_plugin(tmp_path_factory) as plugins:
            yield plugins

    def test_limit(plugins, tmp_path_factory):
        plugins.add("limit_two", CODE, hooks=["mallow_validate_checkout"])
        app = plugin_app(tmp_path_factory, "sqlite", ["limit_two"])

Nothing of Mallow is imported here: the builder only writes files.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: what an empty settings schema is when a test gives none: no settings, nothing else accepted
NO_SETTINGS = {"type": "object", "properties": {}, "additionalProperties": False}


def implemented_hooks(code: str) -> list[str]:
    """The ``mallow_*`` functions marked ``@hookimpl`` in ``code``: the manifest's ``hooks`` when a
    test gives none (Mallow loads a plugin only when the two agree)."""
    return sorted(set(re.findall(r"@hookimpl(?:\([^)]*\))?\s*\n\s*def (mallow_\w+)", code)))


class PluginBuilder:
    """Writes fake installed plugin distributions into ``root`` (a folder meant for ``sys.path``)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.packages: list[str] = []

    def add(
        self,
        name: str,
        code: str,
        *,
        version: str = "0.1.0",
        title: str | dict | None = None,
        settings_schema: dict | None = None,
        permissions: list[str] | None = None,
        module: str | None = None,
        hooks: list[str] | None = None,
        files: dict[str, str] | None = None,
        min_mallow_version: str = "0.1.0",
    ) -> Path:
        """Install plugin ``name`` with ``code`` as its ``__init__.py`` (``files``: more text files
        inside the package, e.g. templates or migrations) and return the package's folder. Adding
        the same name again is an upgrade: the older version's dist-info goes."""
        package = module or f"mallow_{name}"
        folder = self.root / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text(code, encoding="utf-8")
        for relative, text in (files or {}).items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text, encoding="utf-8")
        manifest = {
            "name": name,
            "version": version,
            "title": title or name,
            "author": "Test Author",
            "description": f"The {name} plugin of the tests.",
            "hooks": hooks if hooks is not None else implemented_hooks(code),
            "settings_schema": settings_schema or NO_SETTINGS,
            "permissions": permissions or [],
            "min_mallow_version": min_mallow_version,
        }
        (folder / "plugin.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        self.register(name, package, version)
        return folder

    def register(self, name: str, package: str, version: str) -> Path:
        """Write the ``.dist-info`` that makes ``package`` (a folder in ``root``) an installed
        distribution with the entry point ``name``; replaces an older version's."""
        for old in self.root.glob(f"{package}-*.dist-info"):
            shutil.rmtree(old)
        dist = self.root / f"{package}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: {version}\n", encoding="utf-8"
        )
        (dist / "entry_points.txt").write_text(f"[mallow.plugins]\n{name} = {package}\n", encoding="utf-8")
        if package not in self.packages:
            self.packages.append(package)
        importlib.invalidate_caches()
        return dist

    def install(self) -> PluginBuilder:
        """Put ``root`` on ``sys.path`` (first), so its plugins are installed in this process."""
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        importlib.invalidate_caches()
        return self

    def uninstall(self) -> None:
        """Take ``root`` off ``sys.path`` and forget every module imported from its packages."""
        if str(self.root) in sys.path:
            sys.path.remove(str(self.root))
        for module in list(sys.modules):
            if module.split(".")[0] in self.packages:
                del sys.modules[module]
        importlib.invalidate_caches()

    def __enter__(self) -> PluginBuilder:
        return self.install()

    def __exit__(self, *exc_info) -> None:
        self.uninstall()


@contextmanager
def build_plugin(tmp_path_factory, prefix: str = "site-packages") -> Iterator[PluginBuilder]:
    """A :class:`PluginBuilder` on a fresh temp folder, installed for the block (pytest's
    ``tmp_path_factory``, or any object with ``mktemp(prefix)``; a ``Path`` works too)."""
    root = Path(tmp_path_factory) if isinstance(tmp_path_factory, (str, Path)) else tmp_path_factory.mktemp(prefix)
    with PluginBuilder(root) as builder:
        yield builder
