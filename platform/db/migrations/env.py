"""Alembic environment shared by the two chains (``platform`` and ``store``).

Mallow runs migrations itself (``mallow db upgrade``, :mod:`mallow.db.migrate`), handing over
the connection, the target metadata and where the version table lives through
``config.attributes``. For ``alembic revision --autogenerate`` during development use
``mallow db revision -m "…" [--store]``, which sets the same attributes.
"""

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=config.attributes["target_metadata"],
    version_table_schema=config.attributes.get("version_table_schema"),
    version_table=config.attributes.get("version_table", "alembic_version"),
    render_as_batch=connection.dialect.name == "sqlite",
    **config.attributes.get("autogenerate_options", {}),
)
with context.begin_transaction():
    context.run_migrations()
