"""storefront events and the analytics tables

Revision ID: 7d9f1a3b4c86
Revises: 6c8e0f2a3b75
Create Date: 2026-12-06 14:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "7d9f1a3b4c86"
down_revision = "6c8e0f2a3b75"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "analytics_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("visitor", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("sku_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.SmallInteger(), nullable=False),
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_events")),
        schema="store",
    )
    with op.batch_alter_table("analytics_events", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_analytics_events_at"), ["at"], unique=False)
    op.create_table(
        "analytics_daily_products",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("carts", sa.Integer(), nullable=False),
        sa.Column("paid_units", sa.Integer(), nullable=False),
        sa.Column("paid_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "product_id", name=op.f("pk_analytics_daily_products")),
        schema="store",
    )
    op.create_table(
        "analytics_daily_sources",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.SmallInteger(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("paid_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "source", name=op.f("pk_analytics_daily_sources")),
        schema="store",
    )
    op.create_table(
        "analytics_cache",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_analytics_cache")),
        schema="store",
    )


def downgrade():
    op.drop_table("analytics_cache", schema="store")
    op.drop_table("analytics_daily_sources", schema="store")
    op.drop_table("analytics_daily_products", schema="store")
    with op.batch_alter_table("analytics_events", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_events_at"))
    op.drop_table("analytics_events", schema="store")
