"""distribution_missed_accruals: paid orders whose commission the settlement sweep still owes

Revision ID: 5e0c2a9b7d14
Revises: 1d8d1d3ed489
"""

from alembic import op
import sqlalchemy as sa


revision = "5e0c2a9b7d14"
down_revision = "1d8d1d3ed489"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "distribution_missed_accruals",
        sa.Column("order_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_distribution_missed_accruals")),
        schema="store",
    )


def downgrade():
    op.drop_table("distribution_missed_accruals", schema="store")
