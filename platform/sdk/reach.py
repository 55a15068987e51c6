"""What a statement issued through the SDK's session reaches, and whether the plugin may.

A plugin's statement may reach only the active store's tables (schema placeholder ``store``):

* its **own tables** (its :func:`~mallow.plugins.tables.plugin_model_base`) with the manifest
  permission ``tables``, read and write;
* **core store tables**, to read, with the permission that covers them (:data:`PERMISSION_OF`:
  ``customers`` for customers and their addresses and carts, ``orders`` for orders, their lines,
  adjustments, events, refunds and after-sales, ``payments`` for payments, ``catalog`` for
  products, SKUs, pictures and categories). Writing them is refused: orders, stock and payments
  change through the SDK's functions (``place_order``, ``cancel_order``, ``refund_order``,
  ``release_stock``, ``add_order_event``…), which keep their rules;
* never: platform tables (``stores``, ``merchants``, ``store_plugins``…), another plugin's
  tables, credentials kept in a store (staff, sessions, SMS codes, payment keys), a table
  outside the known metadata (``sa.table("merchants")``, another schema), raw SQL text
  (``sa.text``, literal columns, prefixes, hints, custom operators: use ``store_sql``, which
  checks it) and functions that read files or run SQL given as a string.

The check walks the statement's expression tree once, when the plugin issues it. A statement
object the same plugin issues again (one built once and run with bound parameters, such as the
flash sale's take) is not walked again: its verdict is remembered per object (:data:`_PASSED`,
the object kept alive beside it so its id means that object; SQLAlchemy statements are immutable,
every change makes a new object, which is checked). It keeps honest code on its own store and
makes mistakes loud; it is not a sandbox (docs/plugins.md, *Trust*).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, ColumnClause, TextClause
from sqlalchemy.sql.functions import Function
from sqlalchemy.sql.selectable import HasHints, HasPrefixes, HasSuffixes

from mallow.db import store_metadata
from mallow.db.session import STORE_BIND, STORE_SCHEMA
from mallow.plugins.tables import plugin_metadata
from mallow.tenants.store_sql import REFUSED_WORDS

#: core store table → the manifest permission that lets a plugin read it
PERMISSION_OF: dict[str, str] = {
    "customers": "customers",
    "addresses": "customers",
    "carts": "customers",
    "cart_items": "customers",
    "orders": "orders",
    "order_lines": "orders",
    "order_adjustments": "orders",
    "order_events": "orders",
    "refunds": "orders",
    "aftersales": "orders",
    "stock_movements": "orders",
    "payments": "payments",
    "products": "catalog",
    "skus": "catalog",
    "product_images": "catalog",
    "product_categories": "catalog",
    "shipping_templates": "catalog",
    "media_assets": "catalog",
    "pages": "storefront",
    "page_versions": "storefront",
}
#: a literal column that is a number or ``*`` (``select(literal_column("1"))``) is harmless
_PLAIN_LITERAL = re.compile(r"^(\*|[0-9]+)$")
#: a custom operator made of operator characters only (``op("@>")``), never words or brackets
_PLAIN_OPERATOR = re.compile(r"^[<>=!~*&|#@^%+\-/?:]{1,4}$")
_RAW_PARTS = ("_prefixes", "_suffixes", "_hints", "_statement_hints")


class StoreAccessRefused(PermissionError):
    """A plugin's statement reaches beyond what it may: another store, the platform, another
    plugin, or a table its manifest does not ask for. Nothing was run."""

    def __init__(self, plugin: str | None, table: str | None, reason: str):
        self.plugin, self.table, self.reason = plugin, table, reason
        who = f"plugin {plugin}" if plugin else "the SDK's session"
        super().__init__(f"{who}: {reason}")


#: statements that passed: (id, plugin, permissions) -> the statement itself (kept, so the id is not
#: reused while the entry lives); a refusal is never remembered. Cleared when full.
_PASSED: dict[tuple[int, str | None, frozenset[str]], Any] = {}
PASSED_ENTRIES = 512


def check_statement(statement: Any, plugin: str | None, permissions: frozenset[str]) -> None:
    """Refuse ``statement`` (a Core/ORM statement given to ``execute``) unless everything it
    reaches is allowed for ``plugin`` (None: not known to be a plugin's code, where only the
    store boundary is kept). A statement object that passed for the same plugin and permissions
    passes again without a walk."""
    key = (id(statement), plugin, permissions)
    if _PASSED.get(key) is statement:
        return
    _walk(statement, plugin, permissions)
    if len(_PASSED) >= PASSED_ENTRIES:
        _PASSED.clear()
    _PASSED[key] = statement


def _walk(statement: Any, plugin: str | None, permissions: frozenset[str]) -> None:
    if isinstance(statement, str):
        raise StoreAccessRefused(plugin, None, "a statement as a string: use store_sql")
    if not isinstance(statement, sa.sql.ClauseElement):
        raise StoreAccessRefused(plugin, None, f"{type(statement).__name__} is not a statement the SDK runs")
    written = _written_table(statement)
    element: Any
    for element in visitors.iterate(statement):
        kind = _KINDS.get(type(element))
        if kind is None:
            kind = _KINDS[type(element)] = _kind_of(type(element))
        if kind is _NOTHING:
            continue
        if kind is _TABLE:
            check_table(element, plugin, permissions, write=written is not None and element.name == written.name)
        elif kind is _TEXT:
            raise StoreAccessRefused(plugin, None, "raw SQL text: use store_sql, which checks what it reaches")
        elif kind is _COLUMN:
            if element.is_literal and not _PLAIN_LITERAL.match(str(element.name)):
                raise StoreAccessRefused(
                    plugin, None, "a literal SQL column: use store_sql, which checks what it reaches"
                )
        elif kind is _BINARY:
            if isinstance(element.operator, operators.custom_op) and not _PLAIN_OPERATOR.match(
                element.operator.opstring
            ):
                raise StoreAccessRefused(plugin, None, f"the operator {element.operator.opstring!r} is SQL text")
        elif kind is _FUNCTION:
            if element.name.lower() in REFUSED_WORDS:
                raise StoreAccessRefused(plugin, None, f"{element.name}() is not allowed (files, or SQL in a string)")
        elif kind is _STATEMENT:
            if any(element.__dict__.get(part) for part in _RAW_PARTS):
                raise StoreAccessRefused(plugin, None, "prefixes, suffixes and hints are SQL text: use store_sql")


#: what the check looks at in an element, decided once per class (this runs on every statement)
_NOTHING, _TABLE, _TEXT, _COLUMN, _BINARY, _FUNCTION, _STATEMENT = (object() for _ in range(7))
_KINDS: dict[type, object] = {}


def _kind_of(cls: type) -> object:
    if issubclass(cls, sa.sql.expression.TableClause):
        return _TABLE
    if issubclass(cls, TextClause):
        return _TEXT
    if issubclass(cls, ColumnClause):
        return _COLUMN
    if issubclass(cls, BinaryExpression):
        return _BINARY
    if issubclass(cls, Function):
        return _FUNCTION
    if issubclass(cls, (HasPrefixes, HasSuffixes, HasHints)):
        return _STATEMENT
    return _NOTHING


def check_mapped(entity: Any, plugin: str | None, permissions: frozenset[str], *, write: bool) -> None:
    """Refuse an ORM entity (a model class or instance: ``get``, ``add``, ``delete``…) the
    plugin may not read (or write)."""
    try:
        mapper: Any = sa.inspect(entity if isinstance(entity, type) else type(entity))
    except sa.exc.NoInspectionAvailable:
        raise StoreAccessRefused(plugin, None, f"{entity!r} is not a mapped model") from None
    for table in getattr(mapper, "tables", ()):
        check_table(table, plugin, permissions, write=write)


def check_table(table: Any, plugin: str | None, permissions: frozenset[str], *, write: bool = False) -> None:
    name = getattr(table, "name", "?")
    metadata = getattr(table, "metadata", None)
    if not isinstance(table, sa.Table) or metadata is None:
        raise StoreAccessRefused(plugin, name, f"{name!r} is not one of the store's tables (use the models)")
    owner = metadata.info.get("plugin")
    if table.schema != STORE_SCHEMA or metadata.info.get("bind_key") != STORE_BIND:
        raise StoreAccessRefused(plugin, name, f"{name!r} is not a table of the active store")
    if owner is not None:
        if plugin is None:  # not known to be a plugin's code: the store boundary above is kept
            return
        if owner != plugin:
            raise StoreAccessRefused(plugin, name, f"{name!r} belongs to the plugin {owner}")
        if metadata is not plugin_metadata(owner):
            raise StoreAccessRefused(plugin, name, f"{name!r} is not declared on the plugin's own model base")
        if "tables" not in permissions:
            raise StoreAccessRefused(plugin, name, f"{name!r}: its own tables need the permission 'tables'")
        return
    if metadata is not store_metadata or store_metadata.tables.get(table.key) is not table._deannotate():
        raise StoreAccessRefused(plugin, name, f"{name!r} is not one of the store's tables")
    needed = PERMISSION_OF.get(name)
    if needed is None:
        raise StoreAccessRefused(plugin, name, f"{name!r} is not open to plugins")
    if plugin is None:
        return
    if write:
        raise StoreAccessRefused(
            plugin, name, f"{name!r} is changed through the SDK's functions, never written directly"
        )
    if needed not in permissions:
        raise StoreAccessRefused(plugin, name, f"reading {name!r} needs the permission {needed!r} in plugin.json")


def _written_table(statement: Any) -> Any:
    """The table an INSERT/UPDATE/DELETE writes (its other tables are read), or None."""
    if isinstance(statement, sa.sql.dml.UpdateBase):
        return getattr(statement, "table", None)
    return None
