"""A Flask-SQLAlchemy session that sends store tables to the active store's engine."""
from __future__ import annotations

from flask_sqlalchemy.session import Session

STORE_BIND = "store"
STORE_SCHEMA = "store"


class NoActiveStore(RuntimeError):
    """A store table was queried with no store active: fail closed, never guess."""


class TenantSession(Session):
    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is not None:
            return bind
        if _touches_store_tables(mapper, clause):
            from mallow.tenants.context import current_store_engine

            engine = current_store_engine()
            if engine is None:
                raise NoActiveStore("a store table was used outside a store context")
            return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _touches_store_tables(mapper, clause) -> bool:
    if mapper is not None:
        table = getattr(mapper, "persist_selectable", None)
        if table is not None:
            return table.metadata.info.get("bind_key") == STORE_BIND
    if clause is not None:
        table = getattr(clause, "table", None)
        if table is not None and getattr(table, "metadata", None) is not None:
            return table.metadata.info.get("bind_key") == STORE_BIND
        for table in getattr(clause, "_from_objects", []) or []:
            metadata = getattr(table, "metadata", None)
            if metadata is not None and metadata.info.get("bind_key") == STORE_BIND:
                return True
    return False
