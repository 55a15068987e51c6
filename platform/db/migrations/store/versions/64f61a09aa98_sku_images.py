"""sku images: each SKU may show its own picture (规格图), an image of the store's media library
(skus.media_id → media_assets.id; NULL: the product's first image stands for it)

Revision ID: 64f61a09aa98
Revises: 20853a537d86
Create Date: 2026-12-06 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "64f61a09aa98"
down_revision = "20853a537d86"
branch_labels = None
depends_on = None


def _store_schema() -> str:
    """The store's real schema: Alembic writes ``ALTER TABLE <schema>.<table>`` itself, without
    the connection's ``schema_translate_map`` (PostgreSQL: ``store_<id>``; SQLite: ``store``)."""
    return (op.get_bind().get_execution_options().get("schema_translate_map") or {}).get("store", "store")


def upgrade():
    schema = _store_schema()
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # SQLite adds a foreign key only inside ADD COLUMN (a batch copy of skus would drop the
        # table, and with foreign keys on that deletes the cart items and stock movements of it);
        # a downgraded store file still has the column (see downgrade)
        columns = {row[1] for row in bind.exec_driver_sql(f'PRAGMA "{schema}".table_info(skus)')}
        if "media_id" not in columns:
            op.execute(
                f'ALTER TABLE "{schema}".skus ADD COLUMN media_id INTEGER '
                "CONSTRAINT fk_skus_media_id_media_assets REFERENCES media_assets (id)"
            )
    else:
        op.add_column("skus", sa.Column("media_id", sa.Integer(), nullable=True), schema=schema)
        op.create_foreign_key(
            op.f("fk_skus_media_id_media_assets"),
            "skus",
            "media_assets",
            ["media_id"],
            ["id"],
            source_schema=schema,
            referent_schema=schema,
        )
    op.create_index(op.f("ix_skus_media_id"), "skus", ["media_id"], unique=False, schema=schema)


def downgrade():
    schema = _store_schema()
    op.drop_index(op.f("ix_skus_media_id"), table_name="skus", schema=schema)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column a foreign key names (only a copy of the table could, see
        # upgrade): the column stays, unread and harmless, and a later upgrade keeps it
        return
    op.drop_constraint(op.f("fk_skus_media_id_media_assets"), "skus", type_="foreignkey", schema=schema)
    op.drop_column("skus", "media_id", schema=schema)
