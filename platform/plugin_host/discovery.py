"""Finding installed plugins and reading their manifests without importing them.

Importing a package runs its top-level code, so an installed but unapproved plugin must never
be imported: the manifest (``plugin.json`` beside the package's ``__init__.py``) is read from
the file system through ``importlib.util.find_spec``, which locates a top-level package without
executing it.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path

GROUP = "mallow.plugins"
#: plugin names end up in URLs, table and version-table names: keep them plain
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
#: plugin packages are namespaced (``mallow_<name>``) against dependency confusion
PACKAGE_PREFIX = "mallow_"


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    module: str
    title: str = ""
    author: str = ""
    description: str = ""
    hooks: tuple[str, ...] = ()
    settings_schema: dict = field(default_factory=dict)
    permissions: tuple[str, ...] = ()
    min_mallow_version: str = "0"
    #: pictures of the plugin at work for the marketplace listing: paths inside the package
    screenshots: tuple[str, ...] = ()
    #: the checkout options (``options`` keys, e.g. ``"flashsale"``) without which the plugin's
    #: checkout hooks do nothing: they are then not called (empty: called for every checkout)
    checkout_options: tuple[str, ...] = ()
    path: Path | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "module": self.module,
            "title": self.title,
            "author": self.author,
            "description": self.description,
            "hooks": list(self.hooks),
            "settings_schema": self.settings_schema,
            "permissions": list(self.permissions),
            "min_mallow_version": self.min_mallow_version,
            "screenshots": list(self.screenshots),
            "checkout_options": list(self.checkout_options),
        }


class ManifestError(ValueError):
    pass


#: the shape of each optional key of plugin.json: (types of the value, type of each item of a list)
SHAPES: dict[str, tuple[tuple[type, ...], type | None]] = {
    "title": ((str, dict), None),
    "description": ((str, dict), None),
    "author": ((str,), None),
    "hooks": ((list,), str),
    "permissions": ((list,), str),
    "screenshots": ((list,), str),
    "checkout_options": ((list,), str),
    "settings_schema": ((dict,), None),
    "min_mallow_version": ((str, int, float), None),
}


def wrongly_shaped(data: dict) -> str | None:
    """The first key of a manifest whose value has the wrong shape (see :data:`SHAPES`), or None."""
    for key, (types, item) in SHAPES.items():
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, types) or (item is not None and not all(isinstance(v, item) for v in value)):
            return key
    return None


def read_manifest(entry_point) -> Manifest:
    module = entry_point.value.split(":", 1)[0].strip()
    if not NAME_RE.match(entry_point.name):
        raise ManifestError(f"{entry_point.name!r}: a plugin name is 2-40 lower-case letters, digits and _")
    if "." in module:
        raise ManifestError(f"{entry_point.name}: a plugin entry point names a top-level package")
    if not module.startswith(PACKAGE_PREFIX):
        raise ManifestError(f"{entry_point.name}: the plugin's package must be named {PACKAGE_PREFIX}…, not {module}")
    spec = importlib.util.find_spec(module)  # locates, never executes
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError(f"{entry_point.name}: package {module} not found")
    folder = Path(list(spec.submodule_search_locations)[0])
    path = folder / "plugin.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{entry_point.name}: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{entry_point.name}: {path} must hold a JSON object, not {type(data).__name__}")
    wrong = wrongly_shaped(data)
    if wrong is not None:
        raise ManifestError(f"{entry_point.name}: {path}: {wrong!r} has the wrong type")
    if data.get("name") != entry_point.name or not data.get("version"):
        raise ManifestError(f"{entry_point.name}: plugin.json must name the plugin {entry_point.name!r} and a version")
    return manifest_of(data, module, folder)


def manifest_of(data: dict, module: str, folder: Path | None = None) -> Manifest:
    """The :class:`Manifest` of a checked ``plugin.json`` (``data``) of package ``module``."""
    return Manifest(
        name=data["name"],
        version=str(data["version"]),
        module=module,
        title=data.get("title", ""),
        author=data.get("author", ""),
        description=data.get("description", ""),
        hooks=tuple(data.get("hooks", ())),
        settings_schema=data.get("settings_schema", {}),
        permissions=tuple(data.get("permissions", ())),
        min_mallow_version=str(data.get("min_mallow_version", "0")),
        screenshots=tuple(data.get("screenshots", ())),
        checkout_options=tuple(data.get("checkout_options", ())),
        path=folder,
    )


def mallow_version() -> str:
    try:
        return version("mallow")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0"


def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"^\s*v?(\d+(?:\.\d+)*)", version or "")
    return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)


def too_new(manifest: Manifest) -> bool:
    """Whether the plugin asks for a newer Mallow than this one (release numbers compared)."""

    def padded(parts):
        return parts + (0,) * (4 - len(parts))

    return padded(_release(manifest.min_mallow_version)) > padded(_release(mallow_version()))


def installed() -> dict[str, tuple[object, Manifest | ManifestError]]:
    """Every installed plugin: ``{name: (entry point, manifest or the error reading it)}``."""
    found = {}
    for entry_point in entry_points(group=GROUP):
        try:
            found[entry_point.name] = (entry_point, read_manifest(entry_point))
        except ManifestError as error:
            found[entry_point.name] = (entry_point, error)
    return found
