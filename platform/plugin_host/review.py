"""What a reviewer reads on a release's page (``/admin/plugins/<id>``): every file with its hash
and source, what changed since the approval (installed files edited afterwards) and since the
last approved version of the plugin (file list and unified diffs), and the inspection's findings.

The files shown are the files an approval binds to (:func:`current_files`); the page's form
carries their digest, so the admin approves exactly what they read.
"""

from __future__ import annotations

import difflib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from mallow.db import db
from mallow.plugin_host import fingerprint, inspection, marketplace
from mallow.plugin_host.discovery import Manifest
from mallow.plugin_host.models import PluginRelease

#: at most this many lines of diff per file (the full file is shown beside it anyway)
DIFF_LINES = 2000


@dataclass
class ReviewFile:
    path: str
    digest: str
    recorded: str | None  # the hash the release recorded (None: not recorded)
    source: str | None  # None: binary, too big, or not readable here
    size: int | None


@dataclass
class Comparison:
    """This release against an earlier one: the file lists and a diff per changed text file."""

    other: PluginRelease
    difference: dict[str, list[str]]
    diffs: dict[str, str] = field(default_factory=dict)


@dataclass
class ReviewPage:
    release: PluginRelease
    manifest: Manifest | None  # the installed plugin when it is this version
    location: str  # install path or archive
    files: list[ReviewFile]
    digest: str
    since_review: dict[str, list[str]] | None  # installed files that differ from the recorded ones
    since_approved: Comparison | None
    findings: list
    manifest_json: str


def current_files(release: PluginRelease, manifest: Manifest | None) -> dict[str, str]:
    """The files under review: an installed release's files on disk now, otherwise the recorded."""
    if release.origin == "installed" and manifest is not None:
        return fingerprint.files_of(manifest)
    return dict(release.files or {})


def _source(release: PluginRelease, path: str, manifest: Manifest | None) -> tuple[str | None, int | None]:
    data = fingerprint.read_bytes(release, path, manifest)
    return fingerprint.as_text(data), (len(data) if data is not None else None)


def last_approved(release: PluginRelease) -> PluginRelease | None:
    """The release ``release`` is compared with: the newest earlier release of the same plugin
    that was approved (or approved, then withdrawn), by recording order. The reviewer's page and
    the developer's release page (:mod:`mallow.developers.changes`) both ask this."""
    return db.session.execute(
        sa.select(PluginRelease)
        .where(
            PluginRelease.name == release.name,
            PluginRelease.id < release.id,
            PluginRelease.status.in_(("approved", "withdrawn")),
        )
        .order_by((PluginRelease.status == "approved").desc(), PluginRelease.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def package_of(release: PluginRelease) -> str:
    """The release's Python package (``mallow_<name>``), the prefix of its files' paths."""
    return (release.manifest or {}).get("module") or f"mallow_{release.name}"


def compare(release: PluginRelease, files: dict[str, str], manifest: Manifest | None) -> Comparison | None:
    other = last_approved(release)
    if other is None:
        return None
    package = package_of(release)
    before = fingerprint.package_files(other.files or {}, package_of(other))
    now = fingerprint.package_files(files, package)
    difference = fingerprint.changed(before, now)
    comparison = Comparison(other, difference)
    other_manifest = marketplace.installed_manifest(other)
    for path in difference["changed"] + difference["added"]:
        old = fingerprint.as_text(fingerprint.read_bytes(other, path, other_manifest)) if path in before else ""
        new = fingerprint.as_text(fingerprint.read_bytes(release, path, manifest))
        if old is None or new is None:
            continue  # binary, or the earlier version's source is not on this server
        if path.endswith(".json"):  # minified JSON (a built wheel's plugin.json) reads as one line
            old, new = _readable_json(old), _readable_json(new)
        lines = difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{other.version}/{path}",
            tofile=f"{release.version}/{path}",
        )
        comparison.diffs[path] = "".join(list(lines)[:DIFF_LINES])
    return comparison


def _readable_json(text: str) -> str:
    """JSON text one key a line, Chinese as written, for a diff a reviewer can read."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    except ValueError:
        return text


def _findings(release: PluginRelease, manifest: Manifest | None) -> list:
    package = package_of(release)
    if release.origin == "installed":
        return inspection.scan(Path(manifest.path), package) if manifest and manifest.path else []
    archive = fingerprint.archive_path(release)
    if archive is None:
        return []
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(archive) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(f"{package}/") and ".." not in m.split("/")]
        wheel.extractall(folder, members)
        return inspection.scan(Path(folder) / package, package)


def page(release: PluginRelease) -> ReviewPage:
    manifest = marketplace.installed_manifest(release) if release.origin == "installed" else None
    files = current_files(release, manifest)
    recorded = release.files or {}
    rows = []
    for path, digest in sorted(files.items()):
        source, size = _source(release, path, manifest)
        rows.append(ReviewFile(path, digest, recorded.get(path), source, size))
    since_review = None
    if manifest is not None and recorded:
        difference = fingerprint.changed(fingerprint.package_files(recorded, manifest.module), files)
        since_review = difference if fingerprint.differs(difference) else None
    location = str(manifest.path) if manifest is not None else (release.archive or "")
    return ReviewPage(
        release=release,
        manifest=manifest,
        location=location,
        files=rows,
        digest=fingerprint.digest_of(files),
        since_review=since_review,
        since_approved=compare(release, files, manifest),
        findings=_findings(release, manifest),
        manifest_json=json.dumps(release.manifest or {}, ensure_ascii=False, indent=2, sort_keys=True),
    )
