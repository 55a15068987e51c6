"""flash sale tables

Revision ID: f1a5c0de0001
Revises:
Create Date: 2026-11-22 12:00:00
"""

from alembic import op
import sqlalchemy as sa

from mallow.sdk import store_schema


revision = "f1a5c0de0001"
down_revision = None
branch_labels = ("flashsale",)
depends_on = None


def upgrade():
    schema = store_schema()  # store_<id> on PostgreSQL, the attached "store" on SQLite
    op.create_table(
        "flashsale_sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("preheat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("per_order_limit", sa.Integer(), nullable=False),
        sa.Column("per_shopper_limit", sa.Integer(), nullable=False),
        sa.Column("per_day_limit", sa.Integer(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_flashsale_sales_window")),
        sa.CheckConstraint(
            "per_order_limit >= 0 AND per_shopper_limit >= 0 AND per_day_limit >= 0",
            name=op.f("ck_flashsale_sales_limits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flashsale_sales")),
        schema=schema,
    )
    with op.batch_alter_table("flashsale_sales", schema=schema) as batch_op:
        batch_op.create_index(batch_op.f("ix_flashsale_sales_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_flashsale_sales_ends_at"), ["ends_at"], unique=False)

    op.create_table(
        "flashsale_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sale_price", sa.BigInteger(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= quota", name=op.f("ck_flashsale_items_remaining_within_quota")
        ),
        sa.CheckConstraint("sale_price >= 0", name=op.f("ck_flashsale_items_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            [f"{schema}.flashsale_sales.id"],
            name=op.f("fk_flashsale_items_sale_id_flashsale_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flashsale_items")),
        sa.UniqueConstraint("sale_id", "sku_id", name="uq_flashsale_items_sale_sku"),
        schema=schema,
    )
    with op.batch_alter_table("flashsale_items", schema=schema) as batch_op:
        batch_op.create_index(batch_op.f("ix_flashsale_items_sale_id"), ["sale_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_flashsale_items_sku_id"), ["sku_id"], unique=False)

    op.create_table(
        "flashsale_purchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_flashsale_purchases_quantity_positive")),
        sa.CheckConstraint("status IN ('pending', 'paid', 'returned')", name=op.f("ck_flashsale_purchases_status")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            [f"{schema}.flashsale_items.id"],
            name=op.f("fk_flashsale_purchases_item_id_flashsale_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            [f"{schema}.flashsale_sales.id"],
            name=op.f("fk_flashsale_purchases_sale_id_flashsale_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flashsale_purchases")),
        sa.UniqueConstraint("order_id", "item_id", name="uq_flashsale_purchases_order_item"),
        schema=schema,
    )
    with op.batch_alter_table("flashsale_purchases", schema=schema) as batch_op:
        batch_op.create_index(batch_op.f("ix_flashsale_purchases_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_flashsale_purchases_sale_customer", ["sale_id", "customer_id"], unique=False)
        batch_op.create_index("ix_flashsale_purchases_status_deadline", ["status", "deadline"], unique=False)

    op.create_table(
        "flashsale_pending",
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            [f"{schema}.flashsale_sales.id"],
            name=op.f("fk_flashsale_pending_sale_id_flashsale_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sale_id", "customer_id", name=op.f("pk_flashsale_pending")),
        schema=schema,
    )
    with op.batch_alter_table("flashsale_pending", schema=schema) as batch_op:
        batch_op.create_index(batch_op.f("ix_flashsale_pending_order_id"), ["order_id"], unique=False)


def downgrade():
    schema = store_schema()
    op.drop_table("flashsale_pending", schema=schema)
    op.drop_table("flashsale_purchases", schema=schema)
    op.drop_table("flashsale_items", schema=schema)
    op.drop_table("flashsale_sales", schema=schema)
