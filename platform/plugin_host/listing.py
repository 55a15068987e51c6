"""What the marketplace listing tells a merchant about a plugin beyond its manifest.

* **How many stores use it**: a count of the stores that have it on, platform-wide. Social proof,
  never which stores: a merchant must not learn who else runs what.
* **Its version history**: the approved and withdrawn releases with the date each was approved.
  Submitted and rejected releases are between the developer and the platform and never show.
* **Its screenshots**: only files the manifest lists, only images (PNG, JPEG, WebP, checked by
  their first bytes, not only their names), only inside the plugin's package folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path, PurePosixPath

import sqlalchemy as sa

from mallow.audit import AuditEntry
from mallow.db import db
from mallow.plugin_host.discovery import Manifest
from mallow.plugin_host.models import PluginRelease
from mallow.plugins.models import StorePlugin

#: the screenshot types a listing shows, by file suffix, with the bytes each must start with
IMAGE_TYPES = {
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".webp": ("image/webp", (b"RIFF",)),
}
#: a screenshot bigger than this is left out (a listing is read on phones)
MAX_SCREENSHOT_BYTES = 5 * 1024 * 1024
#: release states a merchant may see
PUBLISHED = ("approved", "withdrawn")


def store_counts() -> dict[str, int]:
    """``{plugin name: number of stores that have it on}``, platform-wide."""
    rows = db.session.execute(
        sa.select(StorePlugin.name, sa.func.count()).where(StorePlugin.enabled.is_(True)).group_by(StorePlugin.name)
    ).all()
    return {name: count for name, count in rows}


def store_count(name: str) -> int:
    return store_counts().get(name, 0)


@dataclass(frozen=True)
class PublishedRelease:
    """One version of a plugin as merchants may see it."""

    version: str
    status: str  # approved | withdrawn
    approved_at: datetime | None

    def as_json(self) -> dict:
        return {
            "version": self.version,
            "status": self.status,
            "approved_at": self.approved_at.isoformat() if self.approved_at else None,
        }


def history(name: str) -> list[PublishedRelease]:
    """The approved and withdrawn versions of ``name``, newest first, each with the date it was
    (last) approved: from the audit log, since a withdrawal overwrites the release's review date."""
    releases = list(
        db.session.execute(
            sa.select(PluginRelease)
            .where(PluginRelease.name == name, PluginRelease.status.in_(PUBLISHED))
            .order_by(PluginRelease.id.desc())
        ).scalars()
    )
    targets = {f"plugin:{r.name}@{r.version}": r for r in releases}
    approved_at = dict(
        db.session.execute(
            sa.select(AuditEntry.target, sa.func.max(AuditEntry.at))
            .where(AuditEntry.action == "plugin.approved", AuditEntry.target.in_(list(targets)))
            .group_by(AuditEntry.target)
        ).all()
    )
    found = [
        PublishedRelease(
            r.version,
            r.status,
            approved_at.get(target) or (r.reviewed_at if r.status == "approved" else None),
        )
        for target, r in targets.items()
    ]
    return sorted(found, key=lambda release: _version_key(release.version), reverse=True)


def _version_key(version: str) -> tuple:
    """Newest first by release number (``1.10.0`` after ``1.9.2``), then by the text."""
    match = re.match(r"^\s*v?(\d+(?:\.\d+)*)", version or "")
    numbers = tuple(int(part) for part in match.group(1).split(".")) if match else ()
    return numbers + (0,) * (6 - len(numbers)), version


def release_status(name: str, version: str) -> str | None:
    """The review state of one version (``None`` when it was never recorded)."""
    return db.session.execute(
        sa.select(PluginRelease.status).where(PluginRelease.name == name, PluginRelease.version == version)
    ).scalar_one_or_none()


def last_published_manifest(name: str) -> Manifest | None:
    """The manifest of the newest approved or withdrawn release of ``name``: what a store that
    had a plugin the platform no longer runs still sees of it."""
    rows = db.session.execute(
        sa.select(PluginRelease.version, PluginRelease.manifest).where(
            PluginRelease.name == name, PluginRelease.status.in_(PUBLISHED)
        )
    ).all()
    if not rows:
        return None
    version, data = max(rows, key=lambda row: _version_key(row[0]))
    data = {**(data or {}), "version": version}
    known = {f.name for f in fields(Manifest)} - {"path"}
    values = {key: value for key, value in data.items() if key in known}
    for key in ("hooks", "permissions", "screenshots"):
        values[key] = tuple(values.get(key) or ())
    values.setdefault("module", f"mallow_{name}")
    return Manifest(**{**values, "name": name})


def screenshot_file(manifest: Manifest, path: str) -> tuple[Path, str] | None:
    """``(file, content type)`` of a screenshot the manifest lists, or ``None`` when ``path`` is
    not listed, not an image, outside the package or missing."""
    if manifest.path is None or not isinstance(path, str) or path not in manifest.screenshots:
        return None
    found = IMAGE_TYPES.get(PurePosixPath(path).suffix.lower())
    if found is None or "\\" in path or PurePosixPath(path).is_absolute():
        return None
    content_type, signatures = found
    folder = Path(manifest.path).resolve()
    file = (folder / path).resolve()
    if not file.is_relative_to(folder) or not file.is_file() or file.stat().st_size > MAX_SCREENSHOT_BYTES:
        return None
    with file.open("rb") as handle:
        head = handle.read(12)
    if not any(head.startswith(signature) for signature in signatures):
        return None
    if content_type == "image/webp" and head[8:12] != b"WEBP":
        return None
    return file, content_type


def screenshots(manifest: Manifest) -> list[str]:
    """The manifest's screenshots that can be shown, in its order."""
    return [path for path in manifest.screenshots if screenshot_file(manifest, path) is not None]
