"""address region codes and sms codes: addresses get the GB/T 2260 codes of their province, city
and district (mallow.regions; older addresses keep names only, codes NULL); sms_codes holds
one-time sign-in codes as HMACs (mallow.accounts.sms)

Revision ID: 20853a537d86
Revises: 5d1e7a3c9b20
Create Date: 2026-12-04 22:12:11.183827
"""

from alembic import op
import sqlalchemy as sa


revision = "20853a537d86"
down_revision = "5d1e7a3c9b20"
branch_labels = None
depends_on = None


def _store_schema() -> str:
    """The store's real schema: Alembic writes ``ALTER TABLE <schema>.<table>`` itself, without
    the connection's ``schema_translate_map`` (PostgreSQL: ``store_<id>``; SQLite: ``store``)."""
    return (op.get_bind().get_execution_options().get("schema_translate_map") or {}).get("store", "store")


def upgrade():
    op.create_table(
        "sms_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_digest", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_codes")),
        schema="store",
    )
    with op.batch_alter_table("sms_codes", schema="store") as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_codes_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_codes_phone_digest"), ["phone_digest"], unique=False)

    schema = _store_schema()
    for name in ("province_code", "city_code", "district_code"):
        op.add_column("addresses", sa.Column(name, sa.String(length=6), nullable=True), schema=schema)


def downgrade():
    with op.batch_alter_table("addresses", schema=_store_schema()) as batch_op:
        batch_op.drop_column("district_code")
        batch_op.drop_column("city_code")
        batch_op.drop_column("province_code")

    with op.batch_alter_table("sms_codes", schema="store") as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_codes_phone_digest"))
        batch_op.drop_index(batch_op.f("ix_sms_codes_created_at"))

    op.drop_table("sms_codes", schema="store")
