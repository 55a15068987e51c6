"""What code a release is: the hash of every file of a plugin's package, and its source.

An approval holds for exactly the files a reviewer read, so a release records
``{path inside the distribution: "sha256=<urlsafe base64, no padding>"}`` (a wheel RECORD's form,
paths like ``mallow_bundle/__init__.py``), and the loader compares it with what is installed now.

The hashes of an installed plugin are always computed from the bytes on disk: a RECORD says what
pip wrote, not what is there now, and an edit after installing must show. For a normal install
the two agree; an editable install (``pip install -e``) or the test kit's fake installs have no
package files in RECORD at all. ``__pycache__`` folders are left out (Python rebuilds them); a
stray compiled file elsewhere in the package counts like any other file (Python would import it).

Reading a file for the review page: an installed release from its package folder, an uploaded
one (``origin == "uploaded"``) from its wheel in the platform's index.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path, PurePosixPath

from flask import current_app

from mallow.plugin_host.discovery import Manifest

#: files shown as text on the review page up to this size
SOURCE_LIMIT = 400_000


def file_hash(data: bytes) -> str:
    """A RECORD-style hash: ``sha256=`` and the digest in urlsafe base64 without padding."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _skipped(relative: PurePosixPath) -> bool:
    return "__pycache__" in relative.parts


def files_of(manifest_or_folder: Manifest | Path) -> dict[str, str]:
    """``{"<package>/<path>": "sha256=…"}`` of every file of an installed plugin's package, read
    from disk now. A folder alone is keyed by its own name as the package."""
    if isinstance(manifest_or_folder, Manifest):
        folder, package = manifest_or_folder.path, manifest_or_folder.module
        if folder is None:
            return {}
    else:
        folder = Path(manifest_or_folder)
        package = folder.name
    found = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if not _skipped(relative):
            found[f"{package}/{relative}"] = file_hash(path.read_bytes())
    return found


def package_files(files: dict[str, str], package: str) -> dict[str, str]:
    """The entries of a file map that belong to the plugin's package (an uploaded wheel's RECORD
    also lists its ``.dist-info``), without ``__pycache__``."""
    prefix = f"{package}/"
    return {
        path: digest
        for path, digest in (files or {}).items()
        if path.startswith(prefix) and digest and not _skipped(PurePosixPath(path))
    }


def changed(approved: dict[str, str], now: dict[str, str]) -> dict[str, list[str]]:
    """What differs between the approved files and the files now: ``{"changed": […], "added":
    […], "removed": […]}``, each sorted (all empty: the same code)."""
    return {
        "changed": sorted(path for path in approved.keys() & now.keys() if approved[path] != now[path]),
        "added": sorted(now.keys() - approved.keys()),
        "removed": sorted(approved.keys() - now.keys()),
    }


def differs(difference: dict[str, list[str]]) -> bool:
    return any(difference.values())


def all_paths(difference: dict[str, list[str]]) -> list[str]:
    return sorted({path for paths in difference.values() for path in paths})


def digest_of(files: dict[str, str]) -> str:
    """One short hash of a whole file map: the review form carries it, so an approval binds to
    exactly the files the reviewer was shown."""
    text = "\n".join(f"{path} {value}" for path, value in sorted(files.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def archive_path(release) -> Path | None:
    """The wheel of an uploaded release inside the platform's index (never outside it)."""
    if not release.archive:
        return None
    index = Path(current_app.config["MALLOW_PLUGIN_INDEX"]).resolve()
    path = (index / release.archive).resolve()
    return path if path.is_relative_to(index) and path.is_file() else None


def read_bytes(release, path: str, manifest: Manifest | None) -> bytes | None:
    """One file of a release as it would run: an uploaded release from its wheel, an installed
    one from the package folder of ``manifest`` (the installed plugin, when its version is the
    release's). ``path`` is a key of a file map; None when the file is not there."""
    if release.origin == "uploaded":
        archive = archive_path(release)
        if archive is None:
            return None
        try:
            with zipfile.ZipFile(archive) as wheel:
                return wheel.read(path)
        except (KeyError, OSError, zipfile.BadZipFile):
            return None
    if manifest is None or manifest.path is None or manifest.version != release.version:
        return None
    package, _slash, inside = path.partition("/")
    if package != manifest.module or not inside:
        return None
    folder = Path(manifest.path).resolve()
    target = (folder / inside).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        return None
    return target.read_bytes()


def as_text(data: bytes | None) -> str | None:
    """Source text to show, or None for a binary, missing or oversized file."""
    if data is None or len(data) > SOURCE_LIMIT or b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
