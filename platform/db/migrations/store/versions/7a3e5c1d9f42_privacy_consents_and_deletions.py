"""privacy: the store's privacy notices, the shoppers' consents to them, account deletions (PIPL)

Revision ID: 7a3e5c1d9f42
Revises: 64f61a09aa98
Create Date: 2026-12-06 13:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "7a3e5c1d9f42"
down_revision = "64f61a09aa98"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "privacy_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("title_zh", sa.String(length=80), nullable=False),
        sa.Column("title_en", sa.String(length=80), nullable=False),
        sa.Column("body_zh", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_notices")),
        sa.UniqueConstraint("version", name=op.f("uq_privacy_notices_version")),
        schema="store",
    )
    with op.batch_alter_table("privacy_notices", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_notices_published_at"), ["published_at"], unique=False)
    op.create_table(
        "privacy_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("notice_version", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IN ('password', 'sms', 'wechat', 'prompt')", name=op.f("ck_privacy_consents_channel")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["store.customers.id"], name=op.f("fk_privacy_consents_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_consents")),
        schema="store",
    )
    with op.batch_alter_table("privacy_consents", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_consents_customer_id"), ["customer_id"], unique=False)
    op.create_table(
        "account_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("proof", sa.String(length=12), nullable=False),
        sa.Column("orders_kept", sa.Integer(), nullable=False),
        sa.Column("erased", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["store.customers.id"], name=op.f("fk_account_deletions_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_deletions")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_account_deletions_customer_id")),
        schema="store",
    )


def downgrade():
    op.drop_table("account_deletions", schema="store")
    with op.batch_alter_table("privacy_consents", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_consents_customer_id"))
    op.drop_table("privacy_consents", schema="store")
    with op.batch_alter_table("privacy_notices", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_notices_published_at"))
    op.drop_table("privacy_notices", schema="store")
