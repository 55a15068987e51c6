"""Development mode (``mallow serve --dev --plugins DIR``): the plugin you are writing runs
from its folder, without ``pip install``, without review, and the server restarts when you
change it. Never in production: :func:`refuse_in_production`.

A plugin folder is what ``mallow plugin new`` writes: a project folder holding the package
``mallow_<name>/`` with its ``plugin.json``. ``DIR`` is such a folder, or a folder of them
(default ``./plugins-dev``). :func:`prepare` makes each one look installed, as pip would: the
project folder goes on ``sys.path`` (the package is found there) and a throwaway
``mallow_<name>-<version>.dist-info`` with the ``mallow.plugins`` entry point is written into a
scratch folder, also put on ``sys.path``, so discovery finds it like any installed plugin. The
loader then loads the plugins whose package lies under ``MALLOW_DEV_PLUGIN_DIRS`` without
approval or hash checks (and never when ``MALLOW_ENV`` is ``production``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from werkzeug.serving import run_simple

from mallow.plugin_host.discovery import GROUP, NAME_RE, PACKAGE_PREFIX

#: where ``mallow serve --dev`` looks when no ``--plugins`` is given
DEFAULT_DIR = "plugins-dev"
#: files beside the code that change what the plugin does: the dev server restarts on them too
WATCHED = ("plugin.json", "*.html", "*.mo", "*.po", "*.css", "*.js", "*.json", "migrations/**/*.py")


class DevModeError(RuntimeError):
    """Development mode cannot start (production, a missing folder, an unreadable manifest)."""


@dataclass(frozen=True)
class DevPlugin:
    name: str
    version: str
    package: Path  # the package folder, mallow_<name>/

    @property
    def project(self) -> Path:
        return self.package.parent


@dataclass
class DevSite:
    """What :func:`prepare` put on ``sys.path`` (:meth:`close` takes it away again)."""

    dirs: list[Path]
    scratch: Path
    plugins: list[DevPlugin] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def close(self) -> None:
        for path in self.paths:
            if path in sys.path:
                sys.path.remove(path)
        packages = {plugin.package.name for plugin in self.plugins}
        for module in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[module]
        importlib.invalidate_caches()


def refuse_in_production(env: str | None) -> None:
    """Development mode loads unreviewed code: a production platform never runs it."""
    if (env or "").strip().lower() == "production":
        raise DevModeError(
            "development mode is refused in production (MALLOW_ENV=production): it loads plugins without review. "
            "Publish the plugin and have it approved instead."
        )


def find_plugins(directory: Path) -> list[DevPlugin]:
    """The plugin projects in ``directory``: the folder itself, or its sub-folders."""
    found = []
    for project in [directory, *sorted(p for p in directory.iterdir() if p.is_dir())]:
        for manifest in sorted(project.glob(f"{PACKAGE_PREFIX}*/plugin.json")):
            found.append(_plugin(manifest))
    return found


def _plugin(path: Path) -> DevPlugin:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DevModeError(f"cannot read {path}: {error}") from None
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not NAME_RE.match(name) or not data.get("version"):
        raise DevModeError(f"{path}: plugin.json must give the plugin's name (lower-case) and a version")
    if path.parent.name != f"{PACKAGE_PREFIX}{name}":
        raise DevModeError(f"{path}: the package of plugin {name!r} must be named {PACKAGE_PREFIX}{name}")
    return DevPlugin(name=name, version=str(data["version"]), package=path.parent.resolve())


def scratch_for(dirs: list[Path]) -> Path:
    """A scratch site folder for these plugin folders, the same on every restart of the server."""
    key = hashlib.sha256("\n".join(str(d) for d in dirs).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mallow-dev-site-{key}"


def prepare(dirs, scratch: Path | None = None) -> DevSite:
    """Make the plugins in ``dirs`` importable and discoverable as installed distributions."""
    folders = [Path(d).expanduser().resolve() for d in dirs]
    for folder in folders:
        if not folder.is_dir():
            raise DevModeError(f"{folder} is not a folder: create it, or put your plugin's folder there")
    site = DevSite(dirs=folders, scratch=Path(scratch or scratch_for(folders)))
    shutil.rmtree(site.scratch, ignore_errors=True)
    site.scratch.mkdir(parents=True)
    seen: dict[str, Path] = {}
    for folder in folders:
        for plugin in find_plugins(folder):
            if plugin.name in seen:
                raise DevModeError(f"plugin {plugin.name!r} is in {seen[plugin.name]} and in {plugin.package}")
            seen[plugin.name] = plugin.package
            _write_dist_info(site.scratch, plugin)
            site.plugins.append(plugin)
    # first on sys.path: the folder under development wins over an installed copy of the plugin
    for path in [str(site.scratch), *dict.fromkeys(str(p.project) for p in site.plugins)]:
        if path not in sys.path:
            sys.path.insert(0, path)
            site.paths.append(path)
    importlib.invalidate_caches()
    return site


def _write_dist_info(scratch: Path, plugin: DevPlugin) -> None:
    package = plugin.package.name
    dist = scratch / f"{package}-{plugin.version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: {plugin.version}\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\n{plugin.name} = {package}\n", encoding="utf-8")


def start(dirs, environ) -> DevSite:
    """What ``mallow serve --dev`` does before it builds the app: refuse production, make the
    plugins in ``dirs`` (default ``./plugins-dev``) installed, and tell the app through
    ``environ`` (``MALLOW_DEV_PLUGIN_DIRS``, inherited by the reloader's serving process)."""
    refuse_in_production(environ.get("MALLOW_ENV"))
    site = prepare(list(dirs) or [DEFAULT_DIR])
    environ["MALLOW_DEV_PLUGIN_DIRS"] = os.pathsep.join(str(d) for d in site.dirs)
    return site


def serve(app: Flask, site: DevSite, host: str, port: int, echo=print) -> None:
    """Run werkzeug's development server with its reloader: it restarts when an imported module
    or a file of the plugins (:func:`watched_files`) changes. The banner is printed once, by the
    watching process; the serving process starts the embedded job runner."""
    refuse_in_production(app.config.get("MALLOW_ENV"))
    serving = os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    if not serving:
        for line in banner(site, app.extensions.get("mallow.loaded_plugins", {})):
            echo(line)
        echo(f"Mallow (development) on http://{host}:{port}/")
    runner = app.extensions["mallow.jobs"]
    if runner.kind == "embedded" and serving:
        runner.start()
    run_simple(host, port, app, use_reloader=True, use_debugger=False, threaded=True, extra_files=watched_files(site))


def watched_files(site: DevSite) -> list[str]:
    """Files beside the code whose change restarts the dev server (Python files that were
    imported are watched by the reloader anyway)."""
    files: set[str] = set()
    for plugin in site.plugins:
        for pattern in WATCHED:
            files.update(str(p) for p in plugin.package.glob(f"**/{pattern}") if "__pycache__" not in p.parts)
        files.update(str(p) for p in plugin.package.glob("**/*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def banner(site: DevSite, loaded: dict) -> list[str]:
    """What ``mallow serve --dev`` prints: the plugins in development mode and that they are
    not reviewed; one that did not load says so (``loaded``: the app's loaded plugins)."""
    lines = ["DEVELOPMENT MODE: plugins below run WITHOUT REVIEW. Never do this on a platform with real stores."]
    if not site.plugins:
        lines.append(
            f"  no plugin found in {', '.join(str(d) for d in site.dirs)} (expected <folder>/mallow_<name>/plugin.json)"
        )
    for plugin in site.plugins:
        state = "loaded" if plugin.name in loaded else "NOT loaded (see the log and `mallow plugin list`)"
        lines.append(f"  {plugin.name} {plugin.version}  {plugin.project}  {state}, not reviewed")
    lines.append("  the server restarts when a file of these plugins changes")
    return lines
