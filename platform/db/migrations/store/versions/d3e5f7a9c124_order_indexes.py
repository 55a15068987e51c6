"""orders' indexes for placement: ix_orders_customer_id goes (uq_orders_customer_idempotency
leads with customer_id: it serves every lookup by shopper, and the order's read by shopper and
Idempotency-Key is one probe of it instead of a walk over all the shopper's orders);
ix_orders_status and ix_orders_pay_deadline become one ix_orders_status_pay_deadline (status
first: the status filters and the sweeps, pay_deadline for the unpaid-order sweep). A new order
writes two index entries less.

Revision ID: d3e5f7a9c124
Revises: c2d4f6b8e013
Create Date: 2026-12-07 05:30:00.000000
"""

from alembic import op


revision = "d3e5f7a9c124"
down_revision = "c2d4f6b8e013"
branch_labels = None
depends_on = None


def _schema() -> str:
    """The store's real schema (see c2d4f6b8e013): ``store`` is a placeholder the connection's
    ``schema_translate_map`` turns into ``store_<id>`` on PostgreSQL; on SQLite the attached file
    is called ``store``."""
    return str((op.get_bind().get_execution_options().get("schema_translate_map") or {}).get("store", "store"))


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=_schema()) as batch_op:
        batch_op.drop_index("ix_orders_customer_id")
        batch_op.drop_index("ix_orders_status")
        batch_op.drop_index("ix_orders_pay_deadline")
        batch_op.create_index("ix_orders_status_pay_deadline", ["status", "pay_deadline"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=_schema()) as batch_op:
        batch_op.drop_index("ix_orders_status_pay_deadline")
        batch_op.create_index("ix_orders_pay_deadline", ["pay_deadline"], unique=False)
        batch_op.create_index("ix_orders_status", ["status"], unique=False)
        batch_op.create_index("ix_orders_customer_id", ["customer_id"], unique=False)
