"""Restoring a store from its archive (``mallow store import ARCHIVE [--slug NEW]``).

After :func:`mallow.stores.archive.reader.open_archive` proved the archive whole and the key right:

1. **Fits this platform?** The archive's store revision must be one of this code's store chain
   (a newer one is refused: upgrade Mallow first); every plugin with tables in it must be loaded
   here, at a revision its chain knows.
2. **Platform rows** (one transaction of the platform session, committed last): the store under
   its slug or ``--slug`` (a live store's slug is refused, never taken over; a **purged** store's
   is taken back: that row keeps its id, records and audit trail under ``<slug>~<id>``,
   :func:`release_slug`, so the restored store answers at its old address); its merchants — an
   account with the same e-mail here is the one used (its own password stays), else the account
   is made with the archived password hash, so the merchant signs in with the password they had;
   its plugins, qualifications (with permits) and compliance findings, with new ids.
3. **The store's tables**, in one transaction of the store's connection: the schema (file) is
   made **at the archive's revision** by running the store chain (and each plugin's chain) up to
   it, the rows are loaded with their ids (personal values opened with the archive key and
   encrypted with this platform's data key; keyed digests kept, or made again when this
   platform's digest key differs; file paths moved to the new store id; ``staff.merchant_id``
   renumbered), references inside a cycle set once every row is in, then every table's row count
   and checksum is compared with the manifest's, then the chains run on to the head, and on
   PostgreSQL every id sequence is set past the highest id.
4. **Files** into the data dir under the new store id; then the platform rows commit, with a
   ``store.restored`` audit entry (the archive's store id, slug and date, the purged store it
   replaces).

Any failure removes what was made (the schema or file, the files written) and rolls the platform
rows back: a failed import leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.sql.ddl import sort_tables_and_constraints
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app

from mallow import audit
from mallow.accounts.models import Merchant, PlatformAdmin
from mallow.db import db, platform_metadata
from mallow.db.migrate import MIGRATIONS, autogenerate_options, head, run_store_chain, script_directory
from mallow.plugins.tables import plugin_metadata
from mallow.security import crypto
from mallow.stores.archive import tables as tbl
from mallow.stores.archive.errors import ArchiveError, Incompatible, WrongKey
from mallow.stores.archive.reader import Opened, open_archive
from mallow.tenants.engines import schema_name
from mallow.tenants.models import Store
from mallow.tenants.provisioning import drop_store
from mallow.tenants.slugs import normalise_slug, slug_problem

log = logging.getLogger("mallow.stores.archive")

BATCH = 500


def import_archive(
    archive: Path | str, secret: str | bytes | None, *, slug: str | None = None, echo=None, actor=None
) -> Store:
    """Restore ``archive`` as a new store (``slug``, default the archived one); returns it. A slug
    held by a purged store is taken back from it (:func:`release_slug`); a live store's is refused."""
    with open_archive(archive, secret) as opened:
        return _import(opened, slug, echo or (lambda text: None), actor)


def released_slug(store: Store) -> str:
    """The slug a purged store keeps once it gave its own up: ``<slug>~<id>``, at most 32
    characters, unique (no store's slug can hold ``~``, and the id is the row's)."""
    tail = f"~{int(store.id)}"
    return store.slug[: 32 - len(tail)] + tail


def release_slug(store: Store, actor=None) -> Store:
    """A purged store gives up its slug for a restore of its archive (in the caller's transaction):
    the row, its id, its platform records and its audit trail stay, under :func:`released_slug`;
    the ``store.slug_released`` entry names both slugs."""
    if store.status != "purged":
        raise ArchiveError(f"store {store.slug!r} is {store.status}: only a purged store's slug is taken back")
    old = store.slug
    store.slug = released_slug(store)
    audit.record(
        "store.slug_released",
        actor=actor,
        store_id=store.id,
        target=f"store:{old}",
        detail={"slug": old, "now": store.slug, "why": "an archive of the store is restored under it"},
    )
    db.session.flush()
    return store


def _lines(opened: Opened, relative: str):
    with opened.path(relative).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _plugin_scripts(name: str) -> ScriptDirectory | None:
    """The plugin's migration chain here (None: a plugin without one); refused if not loaded."""
    manifest = current_app.extensions.get("mallow.loaded_plugins", {}).get(name)
    if manifest is None:
        raise Incompatible(
            f"the archive holds tables of plugin {name!r}, which this platform has not loaded: "
            "install and approve it (`mallow plugin sync`, then review) and import again"
        )
    versions = manifest.path / "migrations" / "versions" if manifest.path else None
    if versions is None or not versions.is_dir():
        return None
    return ScriptDirectory.from_config(_plugin_config(name, versions, None, ""))


def _plugin_config(name: str, versions: Path, connection, version_table_schema: str) -> Config:
    """What :func:`mallow.plugin_host.migrate.migrate_plugin` runs, on the caller's connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", str(versions))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes.update(
        connection=connection,
        target_metadata=plugin_metadata(name),
        version_table_schema=version_table_schema,
        version_table=f"alembic_version_{name}",
        autogenerate_options=autogenerate_options("store"),
    )
    return cfg


def _check_fits(manifest: dict) -> dict[str, ScriptDirectory | None]:
    revision = manifest.get("store_revision")
    try:
        known = revision is not None and script_directory("store").get_revision(revision) is not None
    except Exception:  # noqa: BLE001 -- alembic: an unknown revision
        known = False
    if not known:
        raise Incompatible(
            f"the archive's store revision {revision!r} is not in this Mallow's store chain (head {head('store')}): "
            "it was made by a newer Mallow; upgrade this platform first"
        )
    scripts = {}
    for name, plugin in (manifest.get("plugins") or {}).items():
        if not any(entry.get("owner") == name for entry in manifest["tables"].values()):
            continue  # enabled there, but without tables: nothing to load
        scripts[name] = found = _plugin_scripts(name)
        wanted = plugin.get("revision")
        if found is not None and wanted is not None:
            try:
                found.get_revision(wanted)
            except Exception:  # noqa: BLE001
                raise Incompatible(
                    f"plugin {name!r} revision {wanted!r} is newer than the plugin installed here: upgrade it first"
                ) from None
    return scripts


def _import(opened: Opened, slug: str | None, echo, actor=None) -> Store:
    manifest = opened.manifest
    scripts = _check_fits(manifest)
    new_slug = normalise_slug(slug or manifest["store"]["slug"])
    problem = slug_problem(new_slug)
    if problem:
        raise ArchiveError(f"slug {new_slug!r} cannot be a store's ({problem}): give another with --slug")
    holder = db.session.execute(sa.select(Store).where(Store.slug == new_slug)).scalar()
    if holder is not None and holder.status != "purged":
        raise ArchiveError(f"a store {new_slug!r} exists already: give the restored one another slug with --slug NEW")
    source_id = int(manifest["store"]["id"])
    written: list[Path] = []
    store_id = None
    try:
        purged = release_slug(holder, actor) if holder is not None else None
        store, merchants = _platform_rows(opened, new_slug, source_id)
        store_id = store.id
        echo(f"store {new_slug}: id {store_id}, loading {len(manifest['tables'])} tables")
        _store_tables(opened, store_id, source_id, merchants, scripts)
        written = _restore_files(opened, source_id, store_id)
        audit.record(
            "store.restored",
            actor=actor,
            store_id=store_id,
            target=f"store:{new_slug}",
            detail={
                "archive_store_id": source_id,
                "archive_slug": manifest["store"]["slug"],
                "archive_created_at": manifest.get("created_at"),
                "replaces_purged_store": purged.id if purged is not None else None,
            },
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if store_id is not None:
            drop_store(store_id)
        for path in written:
            path.unlink(missing_ok=True)
        raise
    if purged is not None:
        echo(f"the purged store {purged.id} gave up slug {new_slug}: it is {purged.slug} now")
    echo(f"store {new_slug} restored: {sum(e['rows'] for e in manifest['tables'].values())} rows, {len(written)} files")
    return store


# -- platform rows ----------------------------------------------------------------------------


def _opened_row(opened: Opened, table_name: str, row: dict, columns) -> dict:
    """A platform row with its sealed values opened (ciphers encrypted with this platform's key)."""
    personal = tbl.personal_columns(table_name, row.keys())
    out = {}
    for column, value in row.items():
        if column not in columns:
            continue  # a column this platform no longer has
        kind = personal.get(column)
        if kind is None or value in (None, ""):
            out[column] = tbl.from_json(columns[column], value)
            continue
        plain = opened.key.open(value, f"{table_name}.{column}")
        if kind == "cipher":
            out[column] = crypto.encrypt(plain)
        elif kind == "digest":
            out[column] = plain
        else:
            out[column] = tbl.from_json(columns[column], json.loads(plain))
    return out


def _insert_platform(table_name: str, values: dict) -> int:
    table = platform_metadata.tables[table_name]
    values = {k: v for k, v in values.items() if k != "id"}
    return db.session.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one()


def _platform_rows(opened: Opened, new_slug: str, source_id: int) -> tuple[Store, dict[int, int]]:
    t = platform_metadata.tables

    def rows(name):
        entry = opened.manifest["platform"].get(name)
        if not entry:
            return []
        return [_opened_row(opened, name, row, t[name].c) for row in _lines(opened, entry["file"])]

    merchants: dict[int, int] = {}
    for row in rows("merchants"):
        existing = db.session.execute(sa.select(Merchant.id).where(Merchant.email == row["email"])).scalar()
        merchants[row["id"]] = existing if existing is not None else _insert_platform("merchants", row)
    (store_row,) = rows("stores")
    store_row.update(slug=new_slug, owner_id=merchants[store_row["owner_id"]])
    store = db.session.get(Store, _insert_platform("stores", store_row))
    for row in rows("store_plugins"):
        _insert_platform("store_plugins", {**row, "store_id": store.id})
    admins = set(db.session.execute(sa.select(PlatformAdmin.id)).scalars())
    qualification_ids = {}
    for row in rows("qualifications"):
        row = tbl.rewrite_paths(row, source_id, str(store.id))
        taken = db.session.execute(
            sa.select(t["qualifications"].c.id).where(t["qualifications"].c.application_id == row["application_id"])
        ).first()
        if taken is not None:  # the original store is still here: keep the reference, made unique
            row["application_id"] = f"{row['application_id'][:50]}-r{store.id}"
        row.update(
            store_id=store.id,
            submitted_by=merchants.get(row["submitted_by"], store.owner_id),
            decided_by=row["decided_by"] if row.get("decided_by") in admins else None,
        )
        qualification_ids[row["id"]] = _insert_platform("qualifications", row)
    for row in rows("qualification_permits"):
        row = tbl.rewrite_paths(row, source_id, str(store.id))
        _insert_platform(
            "qualification_permits", {**row, "qualification_id": qualification_ids[row["qualification_id"]]}
        )
    if "compliance_findings" in t:
        for row in rows("compliance_findings"):
            row.update(store_id=store.id, decided_by=row.get("decided_by") if row.get("decided_by") in admins else None)
            _insert_platform("compliance_findings", row)
    db.session.flush()
    return store, merchants


# -- the store's tables -----------------------------------------------------------------------


def _store_tables(opened: Opened, store_id: int, source_id: int, merchants: dict, scripts: dict) -> None:
    manifest = opened.manifest
    engines = current_app.extensions["mallow.store_engines"]
    version_schema = engines.version_table_schema(store_id)
    same_digest_key = manifest.get("digest_key") == tbl.platform_digest_fingerprint()
    with engines.engine_for(store_id).begin() as connection:
        if engines.is_postgresql:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema_name(store_id)}"')
        run_store_chain(connection, version_schema, manifest["store_revision"])
        for name, found in scripts.items():
            _plugin_to(connection, name, found, version_schema, manifest["plugins"][name].get("revision"))
        metadata = tbl.reflect(connection, store_id)
        present = {t.name: t for t in tbl.archived_tables(metadata)}
        expected = set(manifest["tables"])
        if set(present) != expected:
            raise Incompatible(
                "the tables at the archive's revision are not the archive's: "
                f"missing here {sorted(expected - set(present))}, not in the archive {sorted(set(present) - expected)}"
            )
        _load_rows(opened, connection, present, store_id, source_id, merchants, same_digest_key)
        restored = tbl.checksums_on(connection, store_id)
        for name, entry in manifest["tables"].items():
            got = restored[name]
            if got["rows"] != entry["rows"] or got["checksum"] != entry["checksum"]:
                raise ArchiveError(
                    f"table {name}: restored {got['rows']} rows (checksum {got['checksum'][:12]}), the archive has "
                    f"{entry['rows']} (checksum {entry['checksum'][:12]}): nothing was imported"
                )
        run_store_chain(connection, version_schema, "head")
        for name, found in scripts.items():
            _plugin_to(connection, name, found, version_schema, "head")
        if engines.is_postgresql:
            _reset_sequences(connection, store_id)


def _plugin_to(connection, name: str, scripts: ScriptDirectory | None, version_schema: str, revision) -> None:
    if scripts is None:  # a plugin without a chain: its models as they are
        plugin_metadata(name).create_all(connection, checkfirst=True)
        return
    versions = Path(scripts.versions)
    command.upgrade(_plugin_config(name, versions, connection, version_schema), revision or "head")


def _cycle_columns(tables: list[sa.Table]) -> dict[str, set[str]]:
    """Columns of foreign keys that cannot be satisfied in insertion order (self references and
    cycles such as a page and its published version): loaded empty, set once every row is in."""
    deferred: dict[str, set[str]] = defaultdict(set)
    for _table, constraints in sort_tables_and_constraints(tables):
        if _table is None:
            for constraint in constraints:
                deferred[constraint.table.name] |= {c.name for c in constraint.columns}
    for table in tables:
        for fk in table.foreign_keys:
            if fk.column.table is table:
                deferred[table.name].add(fk.parent.name)
    return deferred


def _open_store_row(opened, table_name, row, columns, personal, store_id, same_digest_key, merchants) -> dict:
    plain: dict = {}
    out: dict = {}
    for column, value in row.items():
        if column not in columns:
            raise ArchiveError(f"table {table_name}: column {column} is not at the archive's revision here")
        kind = personal.get(column)
        if kind is None or value in (None, ""):
            out[column] = tbl.from_json(columns[column], value)
            plain[column] = out[column]
            continue
        plain[column] = opened.key.open(value, f"{table_name}.{column}")
        if kind == "cipher":
            out[column] = crypto.encrypt(plain[column])
        elif kind == "plain":
            plain[column] = json.loads(plain[column])
            out[column] = tbl.from_json(columns[column], plain[column])
    for column, kind in personal.items():
        if kind != "digest" or row.get(column) in (None, ""):
            continue
        if same_digest_key:
            out[column] = plain[column]
            continue
        preimage = tbl.DIGEST_PREIMAGES.get((table_name, column))
        if preimage is None:
            raise WrongKey(
                f"{table_name}.{column} holds digests keyed with the exporting platform's data key, which this "
                "platform does not have: set MALLOW_DATA_KEY to that key to import here"
            )
        out[column] = crypto.digest(preimage(plain, store_id))
    for (ref_table, ref_column), _target in tbl.PLATFORM_REFERENCES.items():
        if ref_table == table_name and out.get(ref_column) is not None:
            if out[ref_column] not in merchants:
                raise ArchiveError(f"{table_name}.{ref_column} {out[ref_column]} names no merchant of the archive")
            out[ref_column] = merchants[out[ref_column]]
    return out


def _load_rows(opened, connection, present, store_id, source_id, merchants, same_digest_key) -> None:
    ordered = [table for table, _ in sort_tables_and_constraints(list(present.values())) if table is not None]
    deferred = _cycle_columns(list(present.values()))
    later: list[tuple[sa.Table, list, dict]] = []
    for table in ordered:
        entry = opened.manifest["tables"][table.name]
        columns = table.c
        personal = tbl.personal_columns(table.name, [c.name for c in table.columns])
        keys = [c.name for c in table.primary_key.columns]
        held = deferred.get(table.name, set())
        batch: list[dict] = []
        for row in _lines(opened, entry["file"]):
            row = tbl.rewrite_paths(row, source_id, str(store_id)) if source_id != store_id else row
            values = _open_store_row(opened, table.name, row, columns, personal, store_id, same_digest_key, merchants)
            if held:
                kept = {c: values[c] for c in held if values.get(c) is not None}
                if kept:
                    later.append((table, [values[k] for k in keys], kept))
                    values.update({c: None for c in kept})
            batch.append(values)
            if len(batch) >= BATCH:
                connection.execute(sa.insert(table), batch)
                batch = []
        if batch:
            connection.execute(sa.insert(table), batch)
    for table, key_values, kept in later:
        where = [table.c[k] == v for k, v in zip([c.name for c in table.primary_key.columns], key_values, strict=True)]
        connection.execute(sa.update(table).where(*where).values(**kept))


def _reset_sequences(connection: sa.Connection, store_id: int) -> None:
    """Every id sequence of the schema past the highest id loaded (PostgreSQL)."""
    schema = schema_name(store_id)
    owned = connection.execute(
        sa.text(
            "SELECT t.relname, a.attname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
            "WHERE n.nspname = :schema AND d.deptype IN ('a', 'i')"
        ),
        {"schema": schema},
    ).all()
    for table, column in owned:
        qualified = f'"{schema}"."{table}"'
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{qualified}', '{column}'), "
            f'COALESCE((SELECT max("{column}") FROM {qualified}), 0) + 1, false)'
        )


# -- files --------------------------------------------------------------------------------------


def _restore_files(opened: Opened, source_id: int, store_id: int) -> list[Path]:
    base = Path(current_app.config["MALLOW_DATA_DIR"]).resolve()
    written: list[Path] = []
    files = opened.folder / "files"
    if not files.is_dir():
        return written
    try:
        for path in sorted(files.rglob("*")):
            if not path.is_file():
                continue
            relative = tbl.rewrite_paths(path.relative_to(files).as_posix(), source_id, str(store_id))
            target = (base / relative).resolve()
            if not str(target).startswith(str(base / "uploads") + "/"):
                raise ArchiveError(f"file {relative} is not a store upload")
            if target.exists():
                raise ArchiveError(f"{relative} exists already in the data dir: nothing was imported")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            written.append(target)
    except BaseException:
        for done in written:
            done.unlink(missing_ok=True)
        raise
    return written
