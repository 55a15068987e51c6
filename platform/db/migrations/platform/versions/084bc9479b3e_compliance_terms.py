"""compliance terms: the absolute-term list (seeded), its revision, and findings

Revision ID: 084bc9479b3e
Revises: 6491e7f8dce9
Create Date: 2026-12-01 18:40:00.000000
"""

import unicodedata

from alembic import op
import sqlalchemy as sa
from datetime import UTC


revision = "084bc9479b3e"
down_revision = "6491e7f8dce9"
branch_labels = None
depends_on = None

FOOD_COSMETICS_HEALTH = ["cosmetics", "farm_produce", "food_bulk", "food_prepackaged", "special_food"]
# The representative list of the compliance brief (public merchant lists; none is official).
SEED = {
    "superlative": "最 最佳 最具 最爱 最优 最好 最大 最高 最高级 最低 最低价 最便宜 史上最低价 最流行 最受欢迎 最先进",
    "first_only": "第一 中国第一 全网第一 销量第一 排名第一 唯一 第一品牌 NO.1 TOP1 独一无二",
    "grade": "国家级 国际级 世界级 顶级 顶尖 尖端 极品 极致 终极 至尊 王牌",
    "first_exclusive": "首个 首选 首发 首家 独家 全国销量冠军 填补国内空白",
    "endorsement": "国家领导人推荐 国家机关推荐 特供 专供 质量免检",
    "absolute": "绝对 100% 万能 永久 史无前例 无与伦比",
    "urgency": "随时结束 随时涨价 再不抢就没了 万人疯抢",
    "medical": "治疗 治愈 根治 疗效 防癌 抗癌 消炎 降血压 降血糖 特效 速效 神效",
}


def upgrade():
    terms = op.create_table(
        "compliance_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("block_categories", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("action IN ('flag', 'block')", name=op.f("ck_compliance_terms_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_terms")),
        sa.UniqueConstraint("key", name=op.f("uq_compliance_terms_key")),
    )
    with op.batch_alter_table("compliance_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compliance_terms_kind"), ["kind"], unique=False)

    revisions = op.create_table(
        "compliance_term_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_term_revision")),
    )
    op.create_table(
        "compliance_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("object_kind", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("object_label", sa.String(length=120), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("matched", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("before", sa.String(length=40), nullable=False),
        sa.Column("after", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("appeal_reason", sa.String(length=500), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'appealed', 'upheld', 'overturned', 'cleared')",
            name=op.f("ck_compliance_findings_status"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_compliance_findings_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_findings")),
    )
    with op.batch_alter_table("compliance_findings", schema=None) as batch_op:
        batch_op.create_index("ix_compliance_findings_object", ["store_id", "object_kind", "object_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_compliance_findings_status"), ["status"], unique=False)

    from datetime import datetime

    now = datetime.now(UTC)
    op.bulk_insert(
        terms,
        [
            {
                "term": term,
                "key": unicodedata.normalize("NFKC", term).casefold(),
                "kind": kind,
                "action": "flag",
                "block_categories": FOOD_COSMETICS_HEALTH if kind == "medical" else [],
                "reason": "",
                "active": True,
                "updated_at": now,
            }
            for kind, words in SEED.items()
            for term in words.split()
        ],
    )
    op.bulk_insert(revisions, [{"id": 1, "revision": 1}])


def downgrade():
    with op.batch_alter_table("compliance_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compliance_findings_status"))
        batch_op.drop_index("ix_compliance_findings_object")

    op.drop_table("compliance_findings")
    op.drop_table("compliance_term_revision")
    with op.batch_alter_table("compliance_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compliance_terms_kind"))

    op.drop_table("compliance_terms")
