"""customer_coupons.expiry_warned_at: the "expires soon" warning is sent once per held coupon

Revision ID: 9a4c6e8b2d15
Revises: 8f2c4d6a1b37
Create Date: 2026-12-06 16:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "9a4c6e8b2d15"
down_revision = "8f2c4d6a1b37"
branch_labels = None
depends_on = None


def _schema():
    """The store's real schema: ALTER TABLE names it literally (``store`` is a placeholder the
    connection's ``schema_translate_map`` turns into ``store_<id>`` on PostgreSQL; on SQLite the
    attached file is called ``store``)."""
    return (op.get_bind().get_execution_options().get("schema_translate_map") or {}).get("store", "store")


def upgrade():
    with op.batch_alter_table("customer_coupons", schema=_schema()) as batch_op:
        batch_op.add_column(sa.Column("expiry_warned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("customer_coupons", schema=_schema()) as batch_op:
        batch_op.drop_column("expiry_warned_at")
