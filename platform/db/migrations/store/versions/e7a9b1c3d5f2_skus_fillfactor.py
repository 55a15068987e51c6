"""skus: fillfactor 50 on PostgreSQL. Every order updates its SKUs' stock; with pages packed
full, a hot SKU's new row versions under concurrent orders left their page, each with new
entries in every index of ``skus``, and the table and its indexes grew with the orders. With
half of each page free the update stays on the page (HOT) and the old versions are pruned in
place. Pages written before keep their packing until rewritten (a ``VACUUM FULL`` or the
next page the table takes); SQLite has no such setting.

Revision ID: e7a9b1c3d5f2
Revises: d3e5f7a9c124
Create Date: 2026-12-07 20:00:00.000000
"""

from alembic import op


revision = "e7a9b1c3d5f2"
down_revision = "d3e5f7a9c124"
branch_labels = None
depends_on = None


def _schema() -> str:
    """The store's real schema (see c2d4f6b8e013)."""
    return str((op.get_bind().get_execution_options().get("schema_translate_map") or {}).get("store", "store"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER TABLE "{_schema()}".skus SET (fillfactor = 50)')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER TABLE "{_schema()}".skus RESET (fillfactor)')
