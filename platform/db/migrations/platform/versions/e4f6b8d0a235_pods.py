"""pods: the PostgreSQL databases store schemas live in, each store's pod, and the write freeze
of a store being moved between pods

Revision ID: e4f6b8d0a235
Revises: d3e5a7c9f124
Create Date: 2026-12-08 10:00:00.000000
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = "e4f6b8d0a235"
down_revision = "d3e5a7c9f124"
branch_labels = None
depends_on = None

#: the platform's own database is the pod "main": every existing store is on it (stores.pod NULL)
MAIN_CAPACITY = 10_000


def upgrade():
    pods = op.create_table(
        "pods",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('open', 'draining')", name=op.f("ck_pods_state")),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_pods_capacity")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pods")),
    )
    op.bulk_insert(
        pods,
        [{"name": "main", "url": "", "capacity": MAIN_CAPACITY, "state": "open", "created_at": datetime.now(UTC)}],
    )
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pod", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("moving_to", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_stores_pod"), ["pod"], unique=False)


def downgrade():
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stores_pod"))
        batch_op.drop_column("moving_to")
        batch_op.drop_column("pod")
    op.drop_table("pods")
