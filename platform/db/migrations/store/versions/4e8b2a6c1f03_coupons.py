"""coupons: the merchant's coupons (优惠券) and the coupons shoppers hold

Revision ID: 4e8b2a6c1f03
Revises: 3c1d5e9a7b42
Create Date: 2026-12-06 14:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4e8b2a6c1f03"
down_revision = "3c1d5e9a7b42"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("threshold_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("cap_fen", sa.BigInteger(), nullable=True),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_ids", sa.JSON(), nullable=False),
        sa.Column("validity", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("total_quantity", sa.Integer(), nullable=False),
        sa.Column("per_shopper_limit", sa.Integer(), nullable=False),
        sa.Column("issued_count", sa.Integer(), nullable=False),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.Column("stacks_with", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("auto_issue", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("issued_count <= total_quantity", name=op.f("ck_coupons_not_over_issued")),
        sa.CheckConstraint("issued_count >= 0 AND used_count >= 0", name=op.f("ck_coupons_counts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        schema="store",
    )
    with op.batch_alter_table("coupons", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_coupons_status"), ["status"], unique=False)
    op.create_table(
        "customer_coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("batch", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["store.coupons.id"], name=op.f("fk_customer_coupons_coupon_id_coupons"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["store.customers.id"],
            name=op.f("fk_customer_coupons_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["store.orders.id"], name=op.f("fk_customer_coupons_order_id_orders"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_coupons")),
        schema="store",
    )
    with op.batch_alter_table("customer_coupons", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_coupons_coupon_id"), ["coupon_id"], unique=False)
        batch_op.create_index("ix_customer_coupons_customer_status", ["customer_id", "status"], unique=False)
        batch_op.create_index("ix_customer_coupons_order_id", ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_coupons_valid_until"), ["valid_until"], unique=False)


def downgrade():
    with op.batch_alter_table("customer_coupons", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_coupons_valid_until"))
        batch_op.drop_index("ix_customer_coupons_order_id")
        batch_op.drop_index("ix_customer_coupons_customer_status")
        batch_op.drop_index(batch_op.f("ix_customer_coupons_coupon_id"))
    op.drop_table("customer_coupons", schema="store")
    with op.batch_alter_table("coupons", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_coupons_status"))
    op.drop_table("coupons", schema="store")
