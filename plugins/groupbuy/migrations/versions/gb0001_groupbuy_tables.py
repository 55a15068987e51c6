"""group-buy tables: campaigns, groups, members, shopper units, refunds owed, log

Revision ID: gb0001
Revises:
Create Date: 2026-11-22

The plugin's own chain (version table ``alembic_version_groupbuy`` in each enabling store's
schema); tables under the placeholder schema ``store``.
"""

from alembic import op
import sqlalchemy as sa


revision = "gb0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "groupbuy_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sku_ids", sa.JSON(), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("leader_bp", sa.Integer(), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("per_order_limit", sa.Integer(), nullable=True),
        sa.Column("per_shopper_limit", sa.Integer(), nullable=True),
        sa.Column("new_customers_only", sa.Boolean(), nullable=False),
        sa.Column("auto_complete_percent", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'ended')", name=op.f("ck_groupbuy_campaigns_status")),
        sa.CheckConstraint("group_size >= 2", name=op.f("ck_groupbuy_campaigns_group_size")),
        sa.CheckConstraint("sold >= 0", name=op.f("ck_groupbuy_campaigns_sold_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_campaigns")),
        schema="store",
    )
    op.create_index(
        op.f("ix_groupbuy_campaigns_product_id"), "groupbuy_campaigns", ["product_id"], unique=False, schema="store"
    )
    op.create_table(
        "groupbuy_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_events")),
        schema="store",
    )
    op.create_index(
        op.f("ix_groupbuy_events_campaign_id"), "groupbuy_events", ["campaign_id"], unique=False, schema="store"
    )
    op.create_index(op.f("ix_groupbuy_events_group_id"), "groupbuy_events", ["group_id"], unique=False, schema="store")
    op.create_table(
        "groupbuy_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("leader_member_id", sa.Integer(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_bp", sa.Integer(), nullable=True),
        sa.Column("auto_completed", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'succeeded', 'failed', 'cancelled')", name=op.f("ck_groupbuy_groups_status")
        ),
        sa.CheckConstraint(
            "headcount >= 0 AND headcount <= seats AND seats <= size", name=op.f("ck_groupbuy_groups_seats")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["store.groupbuy_campaigns.id"],
            name=op.f("fk_groupbuy_groups_campaign_id_groupbuy_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_groups")),
        schema="store",
    )
    op.create_index(
        op.f("ix_groupbuy_groups_campaign_id"), "groupbuy_groups", ["campaign_id"], unique=False, schema="store"
    )
    op.create_index(op.f("ix_groupbuy_groups_deadline"), "groupbuy_groups", ["deadline"], unique=False, schema="store")
    op.create_index(op.f("ix_groupbuy_groups_status"), "groupbuy_groups", ["status"], unique=False, schema="store")
    op.create_table(
        "groupbuy_shopper_units",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.CheckConstraint("units >= 0", name=op.f("ck_groupbuy_shopper_units_units_not_negative")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["store.groupbuy_campaigns.id"],
            name=op.f("fk_groupbuy_shopper_units_campaign_id_groupbuy_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_groupbuy_shopper_units")),
        schema="store",
    )
    op.create_table(
        "groupbuy_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("paid_unit", sa.BigInteger(), nullable=False),
        sa.Column("opener", sa.Boolean(), nullable=False),
        sa.Column("leader_bp", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'joined', 'dropped', 'left', 'refunded')", name=op.f("ck_groupbuy_members_status")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_groupbuy_members_quantity")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["store.groupbuy_campaigns.id"],
            name=op.f("fk_groupbuy_members_campaign_id_groupbuy_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["store.groupbuy_groups.id"], name=op.f("fk_groupbuy_members_group_id_groupbuy_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_members")),
        sa.UniqueConstraint("order_id", name=op.f("uq_groupbuy_members_order_id")),
        schema="store",
    )
    op.create_index(
        op.f("ix_groupbuy_members_campaign_id"), "groupbuy_members", ["campaign_id"], unique=False, schema="store"
    )
    op.create_index(
        op.f("ix_groupbuy_members_customer_id"), "groupbuy_members", ["customer_id"], unique=False, schema="store"
    )
    op.create_index(
        op.f("ix_groupbuy_members_group_id"), "groupbuy_members", ["group_id"], unique=False, schema="store"
    )
    op.create_index(op.f("ix_groupbuy_members_status"), "groupbuy_members", ["status"], unique=False, schema="store")
    op.create_table(
        "groupbuy_refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('due', 'processing', 'done', 'failed')", name=op.f("ck_groupbuy_refunds_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_groupbuy_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["store.groupbuy_members.id"], name=op.f("fk_groupbuy_refunds_member_id_groupbuy_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groupbuy_refunds")),
        sa.UniqueConstraint("member_id", "kind", name="uq_groupbuy_refunds_member_kind"),
        schema="store",
    )
    op.create_index(
        op.f("ix_groupbuy_refunds_member_id"), "groupbuy_refunds", ["member_id"], unique=False, schema="store"
    )
    op.create_index(
        op.f("ix_groupbuy_refunds_order_id"), "groupbuy_refunds", ["order_id"], unique=False, schema="store"
    )
    op.create_index(op.f("ix_groupbuy_refunds_status"), "groupbuy_refunds", ["status"], unique=False, schema="store")


def downgrade():
    op.drop_index(op.f("ix_groupbuy_refunds_status"), table_name="groupbuy_refunds", schema="store")
    op.drop_index(op.f("ix_groupbuy_refunds_order_id"), table_name="groupbuy_refunds", schema="store")
    op.drop_index(op.f("ix_groupbuy_refunds_member_id"), table_name="groupbuy_refunds", schema="store")
    op.drop_table("groupbuy_refunds", schema="store")
    op.drop_index(op.f("ix_groupbuy_members_status"), table_name="groupbuy_members", schema="store")
    op.drop_index(op.f("ix_groupbuy_members_group_id"), table_name="groupbuy_members", schema="store")
    op.drop_index(op.f("ix_groupbuy_members_customer_id"), table_name="groupbuy_members", schema="store")
    op.drop_index(op.f("ix_groupbuy_members_campaign_id"), table_name="groupbuy_members", schema="store")
    op.drop_table("groupbuy_members", schema="store")
    op.drop_table("groupbuy_shopper_units", schema="store")
    op.drop_index(op.f("ix_groupbuy_groups_status"), table_name="groupbuy_groups", schema="store")
    op.drop_index(op.f("ix_groupbuy_groups_deadline"), table_name="groupbuy_groups", schema="store")
    op.drop_index(op.f("ix_groupbuy_groups_campaign_id"), table_name="groupbuy_groups", schema="store")
    op.drop_table("groupbuy_groups", schema="store")
    op.drop_index(op.f("ix_groupbuy_events_group_id"), table_name="groupbuy_events", schema="store")
    op.drop_index(op.f("ix_groupbuy_events_campaign_id"), table_name="groupbuy_events", schema="store")
    op.drop_table("groupbuy_events", schema="store")
    op.drop_index(op.f("ix_groupbuy_campaigns_product_id"), table_name="groupbuy_campaigns", schema="store")
    op.drop_table("groupbuy_campaigns", schema="store")
