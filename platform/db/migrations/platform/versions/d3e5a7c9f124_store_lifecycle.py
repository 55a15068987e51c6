"""store lifecycle: a merchant's close request (closing), the closed and purged states, and when a
closed store's data are purged

Revision ID: d3e5a7c9f124
Revises: 64e9124b3900
Create Date: 2026-12-06 16:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "d3e5a7c9f124"
down_revision = "64e9124b3900"
branch_labels = None
depends_on = None

STATES = "status IN ('pending', 'open', 'closing', 'suspended', 'closed', 'purged')"
OLD_STATES = "status IN ('pending', 'open', 'suspended', 'closed')"


def upgrade():
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("close_requested_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_stores_purge_after"), ["purge_after"], unique=False)
        batch_op.drop_constraint(batch_op.f("ck_stores_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_stores_status"), STATES)


def downgrade():
    # the two new states have no place in the old machine: a closing store is open again, a
    # purged one stays closed (its data are gone either way)
    op.execute("UPDATE stores SET status = 'open' WHERE status = 'closing'")
    op.execute("UPDATE stores SET status = 'closed' WHERE status = 'purged'")
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_stores_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_stores_status"), OLD_STATES)
        batch_op.drop_index(batch_op.f("ix_stores_purge_after"))
        batch_op.drop_column("purged_at")
        batch_op.drop_column("purge_after")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("close_requested_at")
