"""A store's tables as an archive sees them: which tables, which columns are personal, the rows
as JSON values and back, and the checksum of a table's non-personal values.

**Which tables.** Every table in the store's schema (or file), reflected as it is, so an archive
holds a store at whatever revision it is: core's tables and every plugin's (``<plugin>_…``,
the plugins' naming rule: :func:`mallow.plugins.tables.plugin_model_base`). Left out: the
migration version tables (the manifest keeps the revisions) and :data:`EPHEMERAL` tables.

**Personal columns.** One rule, the one Mallow already keeps at rest: a personal value is stored
encrypted by :mod:`mallow.security.crypto` in a ``*_cipher`` column, and looked up through a keyed
digest in a ``*_digest`` column. A column can also declare itself personal with
``info={"personal": True}`` on its model (plaintext personal data, should a capability keep some).
In an archive each such value is sealed on its own with the operator's key
(:mod:`mallow.stores.archive.keys`); the platform's own data key never leaves the platform, so an
import re-encrypts with the target platform's key. A keyed digest travels sealed too and is kept
when the target platform has the same digest key, else made again from the row
(:data:`DIGEST_PREIMAGES`).

**Checksums.** SHA-256 over the rows in primary-key order, of every column but the personal ones
and the references to platform accounts (:data:`PLATFORM_REFERENCES`, renumbered on import), with
the store's file paths written without the store id (``uploads/stores/<id>/`` → ``…/{store}/``).
The same figure before an export and after an import means the same store.
"""

from __future__ import annotations

import base64
import decimal
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from sqlalchemy.sql.ddl import sort_tables_and_constraints
from flask import current_app

from mallow.db import platform_metadata, store_metadata
from mallow.security import crypto
from mallow.tenants.engines import schema_name

#: tables an archive leaves out, and why (the manifest says so too)
EPHEMERAL = {
    "sms_codes": "one-time sign-in codes, valid for minutes",
    "customer_sessions": "sign-ins: shoppers sign in again after an import",
}
#: store columns that hold a platform row's id: renumbered on import, left out of checksums
PLATFORM_REFERENCES = {("staff", "merchant_id"): "merchants"}


def _login_preimage(row: dict, store_id: int) -> str:
    """What ``customers.login_digest`` hashes (:mod:`mallow.accounts.customers`): the normalised
    login; a WeChat-only shopper's ``wechat:<openid>``; a deleted account's tombstone."""
    login = row.get("login_cipher") or ""
    if login:
        return login
    if row.get("wechat_openid"):
        return "wechat:" + row["wechat_openid"]
    return f"deleted:{store_id}:{row['id']}"


#: how a keyed digest is made again from its row's opened values when the target platform's
#: digest key differs: ``(table, column) -> f(row, new store id) -> the digested text``
DIGEST_PREIMAGES: dict[tuple[str, str], Callable[[dict, int], str]] = {
    ("customers", "login_digest"): _login_preimage,
}

#: platform columns of the rows that belong to the store which are personal or credentials:
#: sealed like a store's personal columns (``*_cipher`` columns are found by the rule)
PLATFORM_PERSONAL = {
    "merchants": ("email", "name", "password_hash"),
    "qualifications": ("contact_name", "contact_email"),
}


def store_schema(store_id: int) -> str:
    """The real schema a store's tables are in: ``store_<id>`` (PostgreSQL), ``store`` (SQLite)."""
    engines = current_app.extensions["mallow.store_engines"]
    return schema_name(store_id) if engines.is_postgresql else "store"


def reflect(connection: sa.Connection, store_id: int) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(connection, schema=store_schema(store_id))
    return metadata


def is_version_table(name: str) -> bool:
    return name == "alembic_version" or name.startswith("alembic_version_")


def archived_tables(metadata: sa.MetaData) -> list[sa.Table]:
    """The tables an archive holds, parents before children."""
    tables = [t for t in metadata.tables.values() if not is_version_table(t.name) and t.name not in EPHEMERAL]
    return [table for table, _fks in sort_tables_and_constraints(tables) if table is not None]


def owner_of(table_name: str, plugins: set[str]) -> str:
    """``core`` or the plugin whose table it is (plugins name theirs ``<plugin>_<thing>``)."""
    for plugin in sorted(plugins, key=len, reverse=True):
        if table_name.startswith(plugin + "_"):
            return plugin
    return "core"


def _declared_personal(table_name: str) -> set[str]:
    names: set[str] = set()
    for metadata in (store_metadata, platform_metadata):
        for table in metadata.tables.values():
            if table.name == table_name:
                names |= {c.name for c in table.columns if c.info.get("personal")}
    return names


def personal_columns(table_name: str, column_names) -> dict[str, str]:
    """``{column: kind}`` of a table's personal columns: ``cipher`` (encrypted at rest with the
    platform's key), ``digest`` (a keyed digest), ``plain`` (declared, or a platform account's)."""
    found: dict[str, str] = {}
    declared = _declared_personal(table_name) | set(PLATFORM_PERSONAL.get(table_name, ()))
    for name in column_names:
        if name.endswith("_cipher"):
            found[name] = "cipher"
        elif name.endswith("_digest"):
            found[name] = "digest"
        elif name in declared:
            found[name] = "plain"
    return found


# -- values --------------------------------------------------------------------------------------


def to_json(value):
    """A column's value as JSON (datetimes as ISO 8601, bytes as base64)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    return value


def from_json(column: sa.Column, value):
    """A JSON value back into what ``column`` takes."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, sa.DateTime):
        moment = datetime.fromisoformat(value)
        if getattr(kind, "timezone", False):
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    if isinstance(kind, sa.Date):
        return date.fromisoformat(value)
    if isinstance(kind, sa.Time):
        return time.fromisoformat(value)
    if isinstance(value, dict) and set(value) == {"$b64"} and not isinstance(kind, sa.JSON):
        return base64.b64decode(value["$b64"])
    return value


def _path_pattern(store_id: int) -> re.Pattern:
    return re.compile(rf"uploads/(stores/)?{int(store_id)}/")


def rewrite_paths(value, source_id: int, target: str):
    """``value`` (a string, or JSON with strings inside) with the store's file paths moved from
    store ``source_id`` to ``target`` (an id, or ``{store}`` for a checksum)."""
    pattern = _path_pattern(source_id)

    def walk(item):
        if isinstance(item, str):
            return pattern.sub(lambda m: f"uploads/{m.group(1) or ''}{target}/", item) if "uploads/" in item else item
        if isinstance(item, list):
            return [walk(i) for i in item]
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        return item

    return walk(value)


def _canonical(value):
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return to_json(value)


class Checksum:
    """The running checksum of one table's rows (non-personal values, paths without the store id)."""

    def __init__(self, table_name: str, columns: list[str], store_id: int):
        personal = personal_columns(table_name, columns)
        self.columns = [c for c in sorted(columns) if c not in personal and (table_name, c) not in PLATFORM_REFERENCES]
        self.store_id = store_id
        self.digest = hashlib.sha256()
        self.rows = 0

    def add(self, row: dict) -> None:
        values = [rewrite_paths(_canonical(row.get(c)), self.store_id, "{store}") for c in self.columns]
        self.digest.update(json.dumps(values, sort_keys=True, ensure_ascii=False).encode() + b"\n")
        self.rows += 1

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def _order(table: sa.Table) -> list:
    keys = list(table.primary_key.columns) or list(table.columns)
    return [column.asc() for column in keys]


def read_rows(connection: sa.Connection, table: sa.Table, chunk: int = 1000) -> Iterator[dict]:
    """The table's rows, in primary-key order, as ``{column: python value}``."""
    result = connection.execution_options(yield_per=chunk).execute(sa.select(table).order_by(*_order(table)))
    for row in result.mappings():
        yield dict(row)


def store_checksums(store_id: int) -> dict[str, dict]:
    """``{table: {"rows": n, "checksum": hex}}`` of the store's archived tables, read now."""
    engines = current_app.extensions["mallow.store_engines"]
    with engines.engine_for(store_id).connect() as connection:
        return checksums_on(connection, store_id)


def checksums_on(connection: sa.Connection, store_id: int) -> dict[str, dict]:
    found = {}
    for table in archived_tables(reflect(connection, store_id)):
        checksum = Checksum(table.name, [c.name for c in table.columns], store_id)
        for row in read_rows(connection, table):
            checksum.add(row)
        found[table.name] = {"rows": checksum.rows, "checksum": checksum.hexdigest()}
    return found


def platform_digest_fingerprint() -> str:
    """Names the platform's digest key without revealing it: a keyed digest of a fixed text."""
    return crypto.digest("mallow-archive-digest-probe")[:16]
