"""The platform's own package index: uploaded wheels on disk in PEP 503 layout.

``<MALLOW_PLUGIN_INDEX>/<normalized project>/<file name>``; a release records its archive as
``"<project>/<file name>"`` with the file's SHA-256. The simple index (``/simple/``, served by
:mod:`mallow.devconsole.simple`) lists only approved releases, so an operator's
``pip install --index-url https://<platform>/simple/ mallow-foo==1.0`` gets reviewed code only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from mallow.db import db
from mallow.developers.wheels import Wheel, normalize
from mallow.plugin_host.fingerprint import archive_path
from mallow.plugin_host.models import PluginRelease


def root() -> Path:
    return Path(current_app.config["MALLOW_PLUGIN_INDEX"])


def store(wheel: Wheel, data: bytes) -> tuple[str, str]:
    """Write ``data`` as ``<project>/<file name>`` (atomically: a reader never sees half a file);
    returns ``(archive, sha256 hex)``."""
    folder = root() / wheel.project
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, folder / wheel.filename)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return f"{wheel.project}/{wheel.filename}", hashlib.sha256(data).hexdigest()


def archive_file(release: PluginRelease) -> Path | None:
    """The wheel of an uploaded release (never a path outside the index)."""
    return archive_path(release)


def approved_files(project: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """``{project: [(file name, sha256 hex)]}`` of the approved uploaded releases."""
    query = sa.select(PluginRelease).where(
        PluginRelease.status == "approved", PluginRelease.origin == "uploaded", PluginRelease.archive.is_not(None)
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for release in db.session.execute(query.order_by(PluginRelease.id)).scalars():
        name, _slash, filename = release.archive.partition("/")
        if project is None or name == normalize(project):
            found.setdefault(name, []).append((filename, release.archive_sha256))
    return found
