"""The merchant's own export (店铺设置 → 数据导出): a job that writes the store's archive, with
progress, and a download for the store's owner that expires.

The merchant is the controller of their shoppers' personal data, the platform processes it on
their behalf: they may take it with them, but it never leaves in clear. The owner chooses a
passphrase when starting the export; every personal value in the archive is sealed with a key
stretched from it (scrypt, :mod:`mallow.stores.archive.keys`), the same archive an operator
restores with ``mallow store import ARCHIVE --key-file <file holding the passphrase>``. The
passphrase is never stored, logged or put in a job's arguments: the request derives the key and
hands the job that key sealed with the platform's data key.

Each export is a status file and, once done, the archive under
``<data dir>/exports/<store id>/`` (named by a random id): per store, found only under the
store's own folder; the archive is deleted :data:`KEEP_HOURS` after it was made.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from mallow import audit
from mallow.jobs import job
from mallow.security import crypto
from mallow.statemachine import StateMachine
from mallow.stores.archive import keys
from mallow.stores.archive.errors import ArchiveError, WrongKey
from mallow.stores.archive.writer import export_store
from mallow.validation import Errors, ValidationFailed

log = logging.getLogger("mallow.stores.archive")

JOB = "stores.export_for_merchant"
KEEP_HOURS = 24
#: one export at a time per store
EXPORT_STATES = StateMachine(
    "store_export", {"queued": {"running", "failed"}, "running": {"done", "failed"}, "done": set(), "failed": set()}
)
ID_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Export:
    id: str
    store_id: int
    status: str
    created_at: str
    by: int | None = None
    progress: int = 0  # percent
    step: str = ""
    finished_at: str | None = None
    size: int = 0
    error: str = ""

    @property
    def expires_at(self) -> datetime | None:
        if not self.finished_at:
            return None
        return datetime.fromisoformat(self.finished_at) + timedelta(hours=KEEP_HOURS)

    @property
    def expired(self) -> bool:
        expires = self.expires_at
        return expires is not None and datetime.now(UTC) >= expires

    @property
    def downloadable(self) -> bool:
        return self.status == "done" and not self.expired


def folder(store_id: int) -> Path:
    return Path(current_app.config["MALLOW_DATA_DIR"]) / "exports" / str(int(store_id))


def _status_path(store_id: int, export_id: str) -> Path:
    if not ID_RE.match(export_id or ""):
        raise LookupError(export_id)
    return folder(store_id) / f"{export_id}.json"


def archive_path(store_id: int, export_id: str) -> Path:
    return _status_path(store_id, export_id).with_suffix(".tar.gz")


def _save(export: Export) -> None:
    path = _status_path(export.store_id, export.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(export)))
    os.replace(partial, path)


def find(store_id: int, export_id: str) -> Export:
    """Store ``store_id``'s export ``export_id`` (LookupError: none in this store)."""
    path = _status_path(store_id, export_id)
    if not path.is_file():
        raise LookupError(export_id)
    return Export(**json.loads(path.read_text()))


def listed(store_id: int) -> list[Export]:
    """The store's exports, newest first; an expired archive is deleted on the way."""
    found = []
    base = folder(store_id)
    if not base.is_dir():
        return found
    for path in base.glob("*.json"):
        try:
            export = Export(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            continue
        if export.expired:
            archive_path(store_id, export.id).unlink(missing_ok=True)
        found.append(export)
    return sorted(found, key=lambda e: e.created_at, reverse=True)


def start(store, merchant, form) -> Export:
    """Queue an export of ``store`` for its owner ``merchant``, sealed with the form's passphrase."""
    errors = Errors()
    passphrase = form.get("passphrase") or ""
    if len(passphrase) < keys.MIN_PASSPHRASE:
        errors.add(
            "passphrase",
            "too_short",
            _("Choose a passphrase of at least %(count)s characters.", count=keys.MIN_PASSPHRASE),
        )
    elif passphrase != (form.get("confirm") or ""):
        errors.add("confirm", "mismatch", _("The two passphrases are not the same."))
    if any(e.status in ("queued", "running") for e in listed(store.id)):
        errors.add("passphrase", "busy", _("An export of this store is under way: wait until it is done."))
    errors.raise_if_any()
    key = keys.passphrase_key(passphrase)
    export = Export(
        id=secrets.token_hex(16), store_id=store.id, status="queued", created_at=datetime.now(UTC).isoformat()
    )
    export.by = getattr(merchant, "id", None)
    _save(export)
    sealed = crypto.encrypt(json.dumps({"raw": base64.urlsafe_b64encode(key.raw).decode(), "salt": key.salt}))
    audit.record("store.export_started", actor=merchant, store_id=store.id, target=f"export:{export.id}")
    current_app.extensions["mallow.jobs"].enqueue(JOB, store_id=store.id, export_id=export.id, sealed_key=sealed)
    return export


@job(JOB, store=True)
def run_export(store, export_id: str, sealed_key: str) -> str:
    """Write the archive of the queued export, saying how far it got as it goes."""
    export = find(store.id, export_id)
    if export.status != "queued":
        return export.status  # ran already (a job queued twice)
    EXPORT_STATES.move(export, "running")
    _save(export)
    try:
        opened = json.loads(crypto.decrypt(sealed_key))
        key = keys.ArchiveKey(base64.urlsafe_b64decode(opened["raw"]), "scrypt", opened["salt"])

        def progress(done: int, total: int, step: str) -> None:
            export.progress, export.step = int(done * 100 / max(total, 1)), step
            _save(export)

        export_store(store.id, archive_path(store.id, export.id), key, progress=progress)
    except (ArchiveError, WrongKey, ValueError, OSError) as exc:
        log.exception("store %s: export %s failed", store.id, export.id)
        EXPORT_STATES.move(export, "failed")
        export.error = str(exc)[:300]
        _save(export)
        return export.status
    EXPORT_STATES.move(export, "done")
    export.progress, export.step = 100, "done"
    export.finished_at = datetime.now(UTC).isoformat()
    export.size = archive_path(store.id, export.id).stat().st_size
    _save(export)
    return export.status


def download(store_id: int, export_id: str) -> Path:
    """The archive of a finished, unexpired export of this store (LookupError otherwise)."""
    export = find(store_id, export_id)
    path = archive_path(store_id, export_id)
    if not export.downloadable or not path.is_file():
        raise LookupError(export_id)
    return path


__all__ = ["EXPORT_STATES", "Export", "ValidationFailed", "download", "find", "listed", "run_export", "start"]
