"""share rewards granted: the rule a referred first order completed under and what its sharer got
(share_referrals.reward_kind, reward_amount, reward_ref), and private coupons (coupons.private:
a share reward's coupon, never in the claim centre)

Revision ID: c2d4f6b8e013
Revises: b1c3e5a7d902
Create Date: 2026-12-06 16:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "c2d4f6b8e013"
down_revision = "b1c3e5a7d902"
branch_labels = None
depends_on = None


def _schema():
    """The store's real schema: ALTER TABLE names it literally (``store`` is a placeholder the
    connection's ``schema_translate_map`` turns into ``store_<id>`` on PostgreSQL; on SQLite the
    attached file is called ``store``)."""
    return (op.get_bind().get_execution_options().get("schema_translate_map") or {}).get("store", "store")


def upgrade():
    with op.batch_alter_table("share_referrals", schema=_schema()) as batch_op:
        batch_op.add_column(sa.Column("reward_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reward_amount", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("reward_ref", sa.Integer(), nullable=True))
    with op.batch_alter_table("coupons", schema=_schema()) as batch_op:
        batch_op.add_column(sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("coupons", schema=_schema()) as batch_op:
        batch_op.drop_column("private")
    with op.batch_alter_table("share_referrals", schema=_schema()) as batch_op:
        batch_op.drop_column("reward_ref")
        batch_op.drop_column("reward_amount")
        batch_op.drop_column("reward_kind")
