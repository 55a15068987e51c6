"""Writing a store's archive (``mallow store export SLUG``, the merchant's console export).

The store's tables are read in one read transaction (PostgreSQL: ``REPEATABLE READ``; SQLite: one
``BEGIN`` on its WAL file), so a store that keeps selling while it is exported still gives a
consistent archive. Files are written to a hidden folder beside the destination, then packed and
renamed into place: a failed export leaves no archive (and never a half one).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from mallow.db import db, platform_metadata
from mallow.plugins.models import StorePlugin
from mallow.security import crypto
from mallow.stores.archive import tables as tbl
from mallow.stores.archive.errors import ArchiveError
from mallow.stores.archive.keys import ArchiveKey
from mallow.tenants.models import Store

FORMAT = "mallow.store-archive/1"
MANIFEST = "manifest.json"
SEAL = "manifest.mac"

Progress = Callable[[int, int, str], None]


def _mallow_version() -> str:
    try:
        return package_metadata.version("mallow")
    except package_metadata.PackageNotFoundError:  # pragma: no cover - always installed
        return "0"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def seal_row(table_name: str, row: dict, personal: dict[str, str], key: ArchiveKey) -> dict:
    """A row as JSON, each personal value sealed with ``key`` (the platform's encryption opened)."""
    out = {}
    for column, value in row.items():
        kind = personal.get(column)
        if kind is None or value is None or value == "":
            out[column] = tbl.to_json(value)
            continue
        where = f"{table_name}.{column}"
        if kind == "cipher":
            try:
                value = crypto.decrypt(value)
            except (ValueError, KeyError) as exc:
                raise ArchiveError(
                    f"{where} of row {row.get('id', '?')} does not open with this platform's data key "
                    "(MALLOW_DATA_KEY): export on the platform that wrote it"
                ) from exc
            out[column] = key.seal(value, where)
        elif kind == "digest":
            out[column] = key.seal(value, where)
        else:
            out[column] = key.seal(json.dumps(tbl.to_json(value), ensure_ascii=False), where)
    return out


class _Lines:
    """One JSON Lines file of the archive."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("w", encoding="utf-8")
        self.count = 0

    def write(self, row: dict) -> None:
        self.handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.count += 1

    def close(self) -> None:
        self.handle.close()


def _revisions(connection: sa.Connection, metadata: sa.MetaData) -> tuple[str | None, dict[str, str | None]]:
    core, plugins = None, {}
    for table in metadata.tables.values():
        if not tbl.is_version_table(table.name):
            continue
        revision = connection.execute(sa.select(table.c.version_num)).scalar()
        if table.name == "alembic_version":
            core = revision
        else:
            plugins[table.name.removeprefix("alembic_version_")] = revision
    return core, plugins


def export_store(store_id: int, destination: Path, key: ArchiveKey, *, progress: Progress | None = None) -> dict:
    """Write store ``store_id``'s archive to ``destination`` (a ``.tar.gz``); returns its manifest."""
    store = db.session.get(Store, store_id)
    if store is None:
        raise ArchiveError(f"no store {store_id}")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = destination.parent / f".{destination.name}.{uuid.uuid4().hex[:8]}.partial"
    work.mkdir()
    try:
        manifest = _write(store, work, key, progress or (lambda done, total, label: None))
        _pack(work, destination)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write(store: Store, work: Path, key: ArchiveKey, progress: Progress) -> dict:
    engines = current_app.extensions["mallow.store_engines"]
    store_plugins = (
        db.session.execute(sa.select(StorePlugin).where(StorePlugin.store_id == store.id).order_by(StorePlugin.name))
        .scalars()
        .all()
    )
    table_entries: dict[str, dict] = {}
    merchant_ids = {store.owner_id}
    with engines.engine_for(store.id).connect() as connection:
        if engines.is_postgresql:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            metadata = tbl.reflect(connection, store.id)
            core_revision, plugin_revisions = _revisions(connection, metadata)
            plugin_names = set(plugin_revisions) | {p.name for p in store_plugins}
            tables = tbl.archived_tables(metadata)
            total = len(tables) + 2
            for number, table in enumerate(tables):
                progress(number, total, table.name)
                columns = [c.name for c in table.columns]
                personal = tbl.personal_columns(table.name, columns)
                checksum = tbl.Checksum(table.name, columns, store.id)
                lines = _Lines(work / "tables" / f"{table.name}.jsonl")
                try:
                    for row in tbl.read_rows(connection, table):
                        checksum.add(row)
                        if table.name == "staff":
                            merchant_ids.add(row["merchant_id"])
                        lines.write(seal_row(table.name, row, personal, key))
                finally:
                    lines.close()
                table_entries[table.name] = {
                    "file": f"tables/{table.name}.jsonl",
                    "owner": tbl.owner_of(table.name, plugin_names),
                    "rows": checksum.rows,
                    "checksum": checksum.hexdigest(),
                    "personal": sorted(personal),
                }
    progress(total - 2, total, "platform")
    platform_entries = _write_platform_rows(store, merchant_ids, work, key)
    progress(total - 1, total, "files")
    files = _copy_files(store, work)
    checksums = {
        path.relative_to(work).as_posix(): sha256_of(path) for path in sorted(work.rglob("*")) if path.is_file()
    }
    manifest = {
        "format": FORMAT,
        "mallow_version": _mallow_version(),
        "created_at": datetime.now(UTC).isoformat(),
        "backend": engines.backend,
        "store": {"id": store.id, "slug": store.slug, "name": store.name},
        "store_revision": core_revision,
        "plugins": {
            name: {
                "revision": plugin_revisions.get(name),
                "version": next((p.version for p in store_plugins if p.name == name), None),
            }
            for name in sorted(plugin_names)
        },
        "tables": table_entries,
        "platform": platform_entries,
        "left_out": tbl.EPHEMERAL,
        "media_files": files,
        "key": key.describe(),
        "digest_key": tbl.platform_digest_fingerprint(),
        "checksums": checksums,
    }
    data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
    (work / MANIFEST).write_bytes(data)
    (work / SEAL).write_text(key.mac(data))
    progress(total, total, "done")
    return manifest


def _platform_rows(table_name: str, where) -> list[dict]:
    table = platform_metadata.tables[table_name]
    return [dict(row) for row in db.session.execute(sa.select(table).where(where).order_by(table.c.id)).mappings()]


def _write_platform_rows(store: Store, merchant_ids: set[int], work: Path, key: ArchiveKey) -> dict:
    """The platform's rows that belong to the store: itself, its merchants (staff and owner, with
    their password hashes, sealed: they sign in with their own passwords after an import), its
    plugins, qualifications with their permits, and its compliance findings."""
    t = platform_metadata.tables
    qualifications = _platform_rows("qualifications", t["qualifications"].c.store_id == store.id)
    wanted = {
        "stores": _platform_rows("stores", t["stores"].c.id == store.id),
        "merchants": _platform_rows("merchants", t["merchants"].c.id.in_(sorted(merchant_ids))),
        "store_plugins": _platform_rows("store_plugins", t["store_plugins"].c.store_id == store.id),
        "qualifications": qualifications,
        "qualification_permits": _platform_rows(
            "qualification_permits",
            t["qualification_permits"].c.qualification_id.in_([q["id"] for q in qualifications]),
        ),
    }
    if "compliance_findings" in t:
        wanted["compliance_findings"] = _platform_rows(
            "compliance_findings", t["compliance_findings"].c.store_id == store.id
        )
    entries = {}
    for name, rows in wanted.items():
        personal = tbl.personal_columns(name, list(t[name].columns.keys()))
        lines = _Lines(work / "platform" / f"{name}.jsonl")
        try:
            for row in rows:
                lines.write(seal_row(name, row, personal, key))
        finally:
            lines.close()
        entries[name] = {"file": f"platform/{name}.jsonl", "rows": len(rows), "personal": sorted(personal)}
    return entries


def store_file_roots(store_id: int) -> list[str]:
    """The folders (relative to the data dir) holding the store's files: its uploads (media
    library, product images, after-sales photos) and its qualification images."""
    return [f"uploads/stores/{int(store_id)}", f"uploads/{int(store_id)}"]


def _copy_files(store: Store, work: Path) -> int:
    base = Path(current_app.config["MALLOW_DATA_DIR"])
    count = 0
    for root in store_file_roots(store.id):
        source = base / root
        if not source.is_dir():
            continue
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink():
                target = work / "files" / path.relative_to(base)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                count += 1
    return count


def _pack(work: Path, destination: Path) -> None:
    partial = destination.with_name(destination.name + ".partial")
    with tarfile.open(partial, "w:gz") as archive:
        archive.add(work / MANIFEST, arcname=MANIFEST)
        archive.add(work / SEAL, arcname=SEAL)
        for path in sorted(work.rglob("*")):
            if path.is_file() and path.relative_to(work).as_posix() not in (MANIFEST, SEAL):
                archive.add(path, arcname=path.relative_to(work).as_posix(), recursive=False)
    os.replace(partial, destination)
