"""qualification lapse: products a lapsed permit took off the shelf

Revision ID: 909c330afa37
Revises: b6c0c9d545cb
Create Date: 2026-11-23 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "909c330afa37"
down_revision = "b6c0c9d545cb"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "qualification_holds",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("permits", sa.JSON(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["store.products.id"],
            name=op.f("fk_qualification_holds_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_qualification_holds")),
        schema="store",
    )


def downgrade():
    op.drop_table("qualification_holds", schema="store")
