"""An approved upload is installed into the plugin environment, to run from the next reload.

When a platform admin approves an uploaded release (``marketplace.release_decided`` with
``action="plugin.approved"``), its wheel is taken from the platform's index, checked again (the
archive's SHA-256, every file against RECORD, the package's files against the hashes the admin
approved) and unpacked into ``MALLOW_PLUGIN_DIR``. A wheel install is unpacking plus its
``.dist-info``: done here directly, no ``pip`` and no build step, so nothing of the plugin runs
while it is installed, in the admin's request or anywhere (the wheel may hold only its package
and its metadata, :mod:`.wheels`). The previous version's package folder and dist-info are
replaced as a whole (a file removed in the new version does not linger), then the installed files
are hashed once more and must equal the approved ones. ``plugin.installed`` goes into the audit log.

The running processes keep the code they imported: the new version is loaded when the server
next starts its workers (a graceful reload, docs/operations.md). Until a version is approved the
previous approved one stays installed and running.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import logging
import os
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, flash, has_request_context
from flask_babel import gettext as _

from mallow import audit
from mallow.db import db
from mallow.developers import index, wheels
from mallow.plugin_host.fingerprint import files_of
from mallow.plugin_host.models import PluginRelease

log = logging.getLogger("mallow.developers")


class InstallFailed(RuntimeError):
    pass


def on_release_decided(release: PluginRelease, action: str, **_extra) -> None:
    """``release_decided`` receiver: install an approved upload; a failure is logged, audited
    and shown to the admin, and the approval stands (the previous version keeps running)."""
    if action != "plugin.approved" or release.origin != "uploaded":
        return
    try:
        path = install(release)
    except InstallFailed as error:
        log.error("plugin %s %s was approved but not installed: %s", release.name, release.version, error)
        audit.record(
            "plugin.install_failed", target=f"plugin:{release.name}@{release.version}", detail={"error": str(error)}
        )
        db.session.commit()
        if has_request_context():
            flash(
                _(
                    "%(name)s %(version)s could not be installed: %(error)s",
                    name=release.name,
                    version=release.version,
                    error=str(error),
                ),
                "error",
            )
        return
    if path is not None and has_request_context():
        flash(
            _(
                "%(name)s %(version)s is installed: it runs after the next reload of the server.",
                name=release.name,
                version=release.version,
            ),
            "ok",
        )


def _newer_approved(release: PluginRelease) -> bool:
    return (
        db.session.execute(
            sa.select(PluginRelease.id).where(
                PluginRelease.name == release.name,
                PluginRelease.origin == "uploaded",
                PluginRelease.status == "approved",
                PluginRelease.id > release.id,
            )
        ).first()
        is not None
    )


def install(release: PluginRelease) -> Path | None:
    """Install ``release`` into the plugin environment; returns its package folder (None when a
    newer approved version is there already). Raises :class:`InstallFailed`."""
    if _newer_approved(release):
        return None
    archive = index.archive_file(release)
    if archive is None:
        raise InstallFailed(f"archive {release.archive} is not in the package index")
    data = archive.read_bytes()
    if hashlib.sha256(data).hexdigest() != release.archive_sha256:
        raise InstallFailed(f"archive {release.archive} changed since it was uploaded")
    try:
        wheel = wheels.inspect(archive.name, data)
    except Exception as error:  # ValidationFailed: the archive no longer passes the upload checks
        raise InstallFailed(f"archive {release.archive} is not a valid plugin wheel: {error}") from None
    if wheel.files != (release.files or {}):
        raise InstallFailed("the wheel's files are not the approved ones")
    target = Path(current_app.config["MALLOW_PLUGIN_DIR"])
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        package_folder = _unpack(wheel, data, target)
    installed = files_of(package_folder)
    if installed != release.files:
        raise InstallFailed("the installed files differ from the approved ones")
    audit.record(
        "plugin.installed",
        target=f"plugin:{release.name}@{release.version}",
        detail={"path": str(package_folder), "files": len(installed)},
    )
    db.session.commit()
    log.info("plugin %s %s installed into %s", release.name, release.version, target)
    return package_folder


@contextmanager
def _locked(target: Path):
    """One install at a time in a plugin environment (two workers, two approvals)."""
    with open(target / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _unpack(wheel: wheels.Wheel, data: bytes, target: Path) -> Path:
    """Unpack into a staging folder beside the target, then swap the package folder and the
    dist-info in, removing the previous version's."""
    staging = Path(tempfile.mkdtemp(dir=target, prefix=".staging-"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for entry in archive.infolist():
                if entry.is_dir():
                    continue
                destination = staging / entry.filename
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.read(entry))
        dist_info = next(staging.glob("*.dist-info"))
        for old in [*target.glob(f"{wheel.package}-*.dist-info"), target / wheel.package]:
            if old.exists():
                trash = Path(tempfile.mkdtemp(dir=target, prefix=".old-"))
                os.replace(old, trash / old.name)
                shutil.rmtree(trash)
        os.replace(staging / wheel.package, target / wheel.package)
        os.replace(dist_info, target / dist_info.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / wheel.package
