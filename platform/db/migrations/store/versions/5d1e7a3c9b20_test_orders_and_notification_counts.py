"""test orders and notification counts: orders.is_test (paid through the sandbox), rejected
payment notifications counted on one row per reason and window

Revision ID: 5d1e7a3c9b20
Revises: 909c330afa37
Create Date: 2026-12-01 21:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "5d1e7a3c9b20"
down_revision = "909c330afa37"
branch_labels = None
depends_on = None


def _schema():
    """The store's real schema. ``store`` is a placeholder that the connection's
    ``schema_translate_map`` turns into ``store_<id>`` (PostgreSQL) for table objects, but ALTER
    TABLE names its schema literally; on SQLite the attached file is called ``store``."""
    return (op.get_bind().get_execution_options().get("schema_translate_map") or {}).get("store", "store")


def upgrade():
    with op.batch_alter_table("orders", schema=_schema()) as batch_op:
        batch_op.add_column(sa.Column("is_test", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("payment_notifications", schema=_schema()) as batch_op:
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_payment_notifications_received_at"), ["received_at"], unique=False)


def downgrade():
    with op.batch_alter_table("payment_notifications", schema=_schema()) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_notifications_received_at"))
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("count")
    with op.batch_alter_table("orders", schema=_schema()) as batch_op:
        batch_op.drop_column("is_test")
