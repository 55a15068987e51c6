"""Whether the loader may import an installed plugin, checked before any of its code runs, and
whether what it imported is what its manifest says.

* **Approval bound to code**: the installed version is approved, and its files on disk are the
  files the approval recorded (:mod:`~mallow.plugin_host.fingerprint`); otherwise the plugin is
  "changed since review" with the files that differ.
* **Inspection**: a plugin whose source has blocking findings
  (:func:`mallow.plugin_host.inspection.scan`) is refused.
* **Hooks**: once imported, the hooks it implements must be the manifest's ``hooks``.
* **Development mode**: with ``MALLOW_DEV_PLUGIN_DIRS`` set outside production, a plugin whose
  package lies in one of those folders loads without review (no approval, no hash check).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from mallow import audit
from mallow.db import db
from mallow.plugin_host import fingerprint, inspection
from mallow.plugin_host.discovery import Manifest
from mallow.plugin_host.models import PluginRelease
from mallow.plugin_host.problems import Problem


def approved_files() -> dict[tuple[str, str], dict[str, str]]:
    """``{(name, version): files}`` of every approved release (empty before the platform is
    migrated)."""
    try:
        rows = db.session.execute(
            sa.select(PluginRelease.name, PluginRelease.version, PluginRelease.files).where(
                PluginRelease.status == "approved"
            )
        ).all()
    except sa.exc.DBAPIError:  # platform not migrated yet: nothing is approved
        db.session.rollback()
        return {}
    return {(name, version): files or {} for name, version, files in rows}


def dev_folders(app: Flask) -> list[Path]:
    """The folders whose plugins load without review: only outside production."""
    if app.config.get("MALLOW_ENV") == "production":
        return []
    return [Path(folder).resolve() for folder in app.config.get("MALLOW_DEV_PLUGIN_DIRS") or []]


def in_dev_folder(manifest: Manifest, folders: list[Path]) -> bool:
    if manifest.path is None or not folders:
        return False
    path = Path(manifest.path).resolve()
    return any(path.is_relative_to(folder) for folder in folders)


def describe(difference: dict[str, list[str]]) -> str:
    parts = [f"{kind}: {', '.join(paths)}" for kind, paths in difference.items() if paths]
    return "; ".join(parts)


def bind_unrecorded(manifest: Manifest, now: dict[str, str]) -> None:
    """An approval recorded before files were hashed holds for the files installed when it is
    first loaded (recorded now, and in the audit log); from then on it is bound to them."""
    release = db.session.execute(
        sa.select(PluginRelease).filter_by(name=manifest.name, version=manifest.version)
    ).scalar_one()
    release.files = now
    audit.record(
        "plugin.files_recorded",
        target=f"plugin:{manifest.name}@{manifest.version}",
        detail={"files": len(now), "why": "approved before its files were recorded"},
    )
    db.session.commit()


def files_problem(manifest: Manifest, approved: dict[str, str]) -> Problem | None:
    """None when the installed files are the approved ones (binding an approval that recorded
    none); else the ``changed_since_review`` problem naming the files."""
    now = fingerprint.files_of(manifest)
    if not approved:
        bind_unrecorded(manifest, now)
        return None
    recorded = fingerprint.package_files(approved, manifest.module)
    difference = fingerprint.changed(recorded, now)
    if not fingerprint.differs(difference):
        return None
    return Problem(
        "changed_since_review",
        describe(difference),
        files=tuple(fingerprint.all_paths(difference)),
        version=manifest.version,
    )


def inspection_problem(manifest: Manifest) -> Problem | None:
    """The ``forbidden_imports`` problem when the plugin's source has blocking findings."""
    if manifest.path is None:
        return None
    findings = [f for f in inspection.scan(Path(manifest.path), manifest.module) if f.blocking]
    if not findings:
        return None
    return Problem(
        "forbidden_imports",
        "; ".join(f"{f.path}:{f.line} {f.message}" for f in findings),
        files=tuple(f"{f.path}:{f.line}" for f in findings),
        version=manifest.version,
    )


def implemented_hooks(manager, module) -> tuple[set[str], set[str]]:
    """The hooks a registered plugin module implements, and those of them Mallow does not know."""
    callers = manager.get_hookcallers(module) or []
    names = {caller.name for caller in callers}
    unknown = {caller.name for caller in callers if not caller.has_spec()}
    return names, unknown


def hooks_problem(manager, module, manifest: Manifest) -> Problem | None:
    """The ``hooks_mismatch`` problem when the implemented hooks are not the manifest's."""
    names, unknown = implemented_hooks(manager, module)
    declared = set(manifest.hooks)
    undeclared, missing = sorted(names - declared), sorted(declared - names)
    if not undeclared and not missing and not unknown:
        return None
    parts = []
    if undeclared:
        parts.append(f"implemented but not in plugin.json: {', '.join(undeclared)}")
    if missing:
        parts.append(f"in plugin.json but not implemented: {', '.join(missing)}")
    if unknown:
        parts.append(f"not hooks of Mallow: {', '.join(sorted(unknown))}")
    return Problem("hooks_mismatch", "; ".join(parts), files=tuple(undeclared + missing), version=manifest.version)
