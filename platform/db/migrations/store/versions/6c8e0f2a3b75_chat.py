"""customer-service chat (客服): conversations and messages

Revision ID: 6c8e0f2a3b75
Revises: 4e8b2a6c1f03
Create Date: 2026-12-06 14:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "6c8e0f2a3b75"
down_revision = "4e8b2a6c1f03"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "chat_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("shopper_unread", sa.Integer(), nullable=False),
        sa.Column("staff_unread", sa.Integer(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_text", sa.String(length=80), nullable=False),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("shopper_unread >= 0 AND staff_unread >= 0", name=op.f("ck_chat_conversations_unread")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["store.customers.id"],
            name=op.f("fk_chat_conversations_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["store.staff.id"], name=op.f("fk_chat_conversations_staff_id_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_conversations")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_chat_conversations_customer_id")),
        schema="store",
    )
    with op.batch_alter_table("chat_conversations", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_conversations_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_conversations_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_conversations_last_message_at"), ["last_message_at"], unique=False)
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("sender_kind", sa.String(length=8), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("auto", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sender_kind IN ('shopper', 'staff', 'auto')", name=op.f("ck_chat_messages_sender_kind")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["store.chat_conversations.id"],
            name=op.f("fk_chat_messages_conversation_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["store.orders.id"], name=op.f("fk_chat_messages_order_id_orders"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        schema="store",
    )
    with op.batch_alter_table("chat_messages", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_messages_conversation_id"), ["conversation_id"], unique=False)


def downgrade():
    with op.batch_alter_table("chat_messages", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_messages_conversation_id"))
    op.drop_table("chat_messages", schema="store")
    with op.batch_alter_table("chat_conversations", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_conversations_last_message_at"))
        batch_op.drop_index(batch_op.f("ix_chat_conversations_staff_id"))
        batch_op.drop_index(batch_op.f("ix_chat_conversations_status"))
    op.drop_table("chat_conversations", schema="store")
