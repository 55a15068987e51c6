"""notifications: one per event and recipient (the in-app inbox), a delivery per channel, preferences, WeChat subscriptions

Revision ID: 8f2c4d6a1b37
Revises: 7d9f1a3b4c86
Create Date: 2026-12-06 15:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "8f2c4d6a1b37"
down_revision = "7d9f1a3b4c86"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("event_key", sa.String(length=120), nullable=False),
        sa.Column("recipient_kind", sa.String(length=8), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("recipient_kind IN ('staff', 'customer')", name=op.f("ck_notifications_recipient_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("event_key", "recipient_kind", "recipient_id", name=op.f("uq_notifications_event_key")),
        schema="store",
    )
    with op.batch_alter_table("notifications", schema="store") as batch_op:
        batch_op.create_index("ix_notifications_inbox", ["recipient_kind", "recipient_id", "read_at"], unique=False)
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("unique_key", sa.String(length=160), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'retrying', 'sent', 'dead')",
            name=op.f("ck_notification_deliveries_delivery_state"),
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["store.notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint("unique_key", name=op.f("uq_notification_deliveries_unique_key")),
        schema="store",
    )
    with op.batch_alter_table("notification_deliveries", schema="store") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_deliveries_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index("ix_notification_deliveries_due", ["state", "next_attempt_at"], unique=False)
    op.create_table(
        "notification_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_kind", sa.String(length=8), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_preferences")),
        sa.UniqueConstraint("recipient_kind", "recipient_id", name=op.f("uq_notification_preferences_recipient_kind")),
        schema="store",
    )
    op.create_table(
        "wechat_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_wechat_subscriptions_remaining")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["store.customers.id"],
            name=op.f("fk_wechat_subscriptions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_subscriptions")),
        sa.UniqueConstraint("customer_id", "event", name=op.f("uq_wechat_subscriptions_customer_id")),
        schema="store",
    )


def downgrade():
    op.drop_table("wechat_subscriptions", schema="store")
    op.drop_table("notification_preferences", schema="store")
    with op.batch_alter_table("notification_deliveries", schema="store") as batch_op:
        batch_op.drop_index("ix_notification_deliveries_due")
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_notification_id"))
    op.drop_table("notification_deliveries", schema="store")
    with op.batch_alter_table("notifications", schema="store") as batch_op:
        batch_op.drop_index("ix_notifications_inbox")
    op.drop_table("notifications", schema="store")
