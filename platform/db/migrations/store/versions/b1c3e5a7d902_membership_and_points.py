"""membership and points: member levels (会员等级), a member row per shopper, the points ledger

Revision ID: b1c3e5a7d902
Revises: 9a4c6e8b2d15
Create Date: 2026-12-06 16:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "b1c3e5a7d902"
down_revision = "9a4c6e8b2d15"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "member_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("free_shipping", sa.Boolean(), nullable=False),
        sa.Column("birthday_coupon_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("discount_percent BETWEEN 50 AND 100", name=op.f("ck_member_levels_discount_percent")),
        sa.CheckConstraint("threshold >= 0", name=op.f("ck_member_levels_threshold")),
        sa.ForeignKeyConstraint(
            ["birthday_coupon_id"],
            ["store.coupons.id"],
            name=op.f("fk_member_levels_birthday_coupon_id_coupons"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_levels")),
        sa.UniqueConstraint("threshold", name=op.f("uq_member_levels_threshold")),
        schema="store",
    )
    op.create_table(
        "members",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("growth", sa.BigInteger(), nullable=False),
        sa.Column("level_id", sa.Integer(), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("birthday_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("birthday_coupon_year", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["store.customers.id"], name=op.f("fk_members_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["store.member_levels.id"],
            name=op.f("fk_members_level_id_member_levels"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_members")),
        schema="store",
    )
    op.create_table(
        "point_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=120), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("growth", sa.BigInteger(), nullable=False),
        sa.Column("basis", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_point_entries_remaining")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["store.customers.id"],
            name=op.f("fk_point_entries_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["store.orders.id"], name=op.f("fk_point_entries_order_id_orders"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_entries")),
        schema="store",
    )
    with op.batch_alter_table("point_entries", schema="store") as batch_op:
        batch_op.create_index("ix_point_entries_customer_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_point_entries_order_id", ["order_id"], unique=False)
        batch_op.create_index("ix_point_entries_lots", ["remaining", "expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("point_entries", schema="store") as batch_op:
        batch_op.drop_index("ix_point_entries_lots")
        batch_op.drop_index("ix_point_entries_order_id")
        batch_op.drop_index("ix_point_entries_customer_id")
    op.drop_table("point_entries", schema="store")
    op.drop_table("members", schema="store")
    op.drop_table("member_levels", schema="store")
