"""share codes and referrals: a shopper's own referral code for share links and posters, and the
sharer who brought a new shopper's first order (分享海报)

Revision ID: 3c1d5e9a7b42
Revises: 7a3e5c1d9f42
Create Date: 2026-12-06 13:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "3c1d5e9a7b42"
down_revision = "7a3e5c1d9f42"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "share_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["store.customers.id"],
            name=op.f("fk_share_codes_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_share_codes_code")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_share_codes_customer_id")),
        schema="store",
    )
    op.create_table(
        "share_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("sharer_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("buyer_id <> sharer_id", name=op.f("ck_share_referrals_not_self")),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["store.customers.id"], name=op.f("fk_share_referrals_buyer_id_customers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["store.orders.id"], name=op.f("fk_share_referrals_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sharer_id"],
            ["store.customers.id"],
            name=op.f("fk_share_referrals_sharer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_referrals")),
        sa.UniqueConstraint("buyer_id", name=op.f("uq_share_referrals_buyer_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_share_referrals_order_id")),
        schema="store",
    )
    with op.batch_alter_table("share_referrals", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_share_referrals_sharer_id"), ["sharer_id"], unique=False)


def downgrade():
    with op.batch_alter_table("share_referrals", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_referrals_sharer_id"))
    op.drop_table("share_referrals", schema="store")
    op.drop_table("share_codes", schema="store")
