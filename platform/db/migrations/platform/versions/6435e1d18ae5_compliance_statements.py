"""compliance statements: the mandatory statements (法定警示语, seeded); term keys in the matcher's new folding

Revision ID: 6435e1d18ae5
Revises: 084bc9479b3e
Create Date: 2026-12-08 10:00:00.000000
"""

import unicodedata

from alembic import op
import sqlalchemy as sa
from datetime import UTC


revision = "6435e1d18ae5"
down_revision = "084bc9479b3e"
branch_labels = None
depends_on = None

# Warnings the law requires word for word; a listed term inside one (治疗) is not reported.
SEED = [
    ("保健食品不是药物，不能代替药物治疗疾病", "保健食品标注警示用语指南（市场监管总局 2019）：保健食品"),
    ("本品不能代替药物", "广告法第十八条：保健食品广告"),
    ("本广告仅供医学药学专业人士阅读", "广告法第十六条：处方药广告"),
    ("请按药品说明书或者在药师指导下购买和使用", "广告法第十六条：非处方药广告"),
    ("请仔细阅读产品说明书或者在医务人员的指导下购买和使用", "广告法第十六条：推荐给个人自用的医疗器械"),
    ("禁忌内容或者注意事项详见说明书", "广告法第十六条：医疗器械"),
    (
        "请在医生或者临床营养师指导下使用",
        "药品、医疗器械、保健食品和特殊医学用途配方食品广告审查管理暂行办法第十条：特殊医学用途配方食品",
    ),
    (
        "不适用于非目标人群使用",
        "药品、医疗器械、保健食品和特殊医学用途配方食品广告审查管理暂行办法第十条：特殊医学用途配方食品",
    ),
]


def _rekey_terms(key_of) -> None:
    """Store every term's key in the given folding; a term that now folds like an earlier one
    (第一 and 第1) is switched off and keyed apart, for an admin to remove."""
    terms = sa.table(
        "compliance_terms",
        sa.column("id", sa.Integer),
        sa.column("term", sa.String),
        sa.column("key", sa.String),
        sa.column("active", sa.Boolean),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(terms.c.id, terms.c.term).order_by(terms.c.id)).all()
    # out of the way first, so no key is taken while the others move
    connection.execute(terms.update().values(key=sa.literal("#") + sa.cast(terms.c.id, sa.String)))
    seen = set()
    for row in rows:
        key = key_of(row.term)
        values = {"key": key}
        if key in seen:
            values = {"key": f"{key}#{row.id}"[:80], "active": False}
        seen.add(key)
        connection.execute(terms.update().where(terms.c.id == row.id).values(**values))


def upgrade():
    # the app's own folding (mallow.compliance.matcher): the keys must be what the app computes
    from mallow.compliance.matcher import fold

    statements = op.create_table(
        "compliance_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("basis", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_statements")),
        sa.UniqueConstraint("key", name=op.f("uq_compliance_statements_key")),
    )

    from datetime import datetime

    now = datetime.now(UTC)
    op.bulk_insert(
        statements,
        [
            {"text": text, "key": fold(text)[0], "basis": basis, "active": True, "updated_at": now}
            for text, basis in SEED
        ],
    )
    _rekey_terms(lambda term: fold(term)[0])
    op.execute("UPDATE compliance_term_revision SET revision = revision + 1")


def downgrade():
    op.drop_table("compliance_statements")
    _rekey_terms(lambda term: unicodedata.normalize("NFKC", term).casefold())
    op.execute("UPDATE compliance_term_revision SET revision = revision + 1")
