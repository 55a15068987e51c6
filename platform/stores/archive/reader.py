"""Opening an archive and proving it is whole before anything is restored.

The archive is unpacked into a private temporary folder (only regular files, no link, no path
outside it), then: the format is one this code reads; the key's fingerprint is the manifest's
(else "wrong key", before any value is tried); the manifest's seal (an HMAC with the key) holds,
so nobody without the key changed it; every file has the SHA-256 the manifest gives and no file
is missing or extra. Only then does :mod:`mallow.stores.archive.importer` read a row.
"""

from __future__ import annotations

import hmac
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mallow.stores.archive import keys
from mallow.stores.archive.errors import ArchiveError, Incompatible, Tampered, WrongKey
from mallow.stores.archive.keys import ArchiveKey
from mallow.stores.archive.writer import FORMAT, MANIFEST, SEAL, sha256_of

READABLE_FORMATS = (FORMAT,)


@dataclass
class Opened:
    folder: Path
    manifest: dict
    key: ArchiveKey

    def path(self, relative: str) -> Path:
        return self.folder / relative

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                if not (member.isfile() or member.isdir()):
                    raise Tampered(f"the archive holds {member.name!r}, which is not a plain file")
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise Tampered(f"{archive} is not a readable store archive ({exc})") from None


def open_archive(archive: Path | str, secret: str | bytes | None) -> Opened:
    """Unpack and verify ``archive`` with the operator's ``secret`` (see :mod:`.keys`)."""
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveError(f"no archive at {archive}")
    folder = Path(tempfile.mkdtemp(prefix="mallow-import-"))
    try:
        _unpack(archive, folder)
        opened = _verify(folder, secret)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return opened


def _verify(folder: Path, secret) -> Opened:
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise Tampered("the archive has no manifest.json: it is not a Mallow store archive")
    data = manifest_path.read_bytes()
    try:
        manifest = json.loads(data)
    except ValueError:
        raise Tampered("manifest.json is not JSON") from None
    if manifest.get("format") not in READABLE_FORMATS:
        raise Incompatible(
            f"archive format {manifest.get('format')!r}: this Mallow reads {', '.join(READABLE_FORMATS)} "
            "(a newer Mallow made it: upgrade this platform first)"
        )
    described = manifest.get("key") or {}
    if secret is None:
        raise WrongKey("this archive's personal data is sealed: give its key (--key-file or MALLOW_ARCHIVE_KEY)")
    key = keys.from_secret(secret, kdf=described.get("kdf"), salt=described.get("salt", ""))
    if not hmac.compare_digest(key.fingerprint, str(described.get("fingerprint", ""))):
        raise WrongKey(
            f"wrong key: the archive was sealed with key {described.get('fingerprint')}, this one is {key.fingerprint}"
        )
    seal = (folder / SEAL).read_text().strip() if (folder / SEAL).is_file() else ""
    if not hmac.compare_digest(seal, key.mac(data)):
        raise Tampered("manifest.json was changed after the export (its seal does not match)")
    listed = manifest.get("checksums") or {}
    present = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()} - {MANIFEST, SEAL}
    for name in sorted(set(listed) - present):
        raise Tampered(f"{name} is missing from the archive")
    for name in sorted(present - set(listed)):
        raise Tampered(f"{name} is in the archive but not in its manifest")
    for name, expected in sorted(listed.items()):
        if not hmac.compare_digest(sha256_of(folder / name), str(expected)):
            raise Tampered(f"checksum mismatch: {name} is not the file that was exported")
    return Opened(folder, manifest, key)
