"""The category → required permits matrix. It is data (platform tables), seeded with defaults.

``requirements`` is a list of groups; every group must be met, and a group is met by any one
of its permit kinds: ``[["food_business_licence", "food_filing_receipt"]]`` reads
"a food business licence or a food filing receipt".
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from mallow import audit
from mallow.db import PlatformModel, db
from mallow.validation import ValidationFailed


class PermitKind(PlatformModel):
    __tablename__ = "permit_kinds"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(sa.String(60))
    name_en: Mapped[str] = mapped_column(sa.String(80))

    def name(self, locale: str) -> str:
        return self.name_zh if str(locale).startswith("zh") else self.name_en


class Category(PlatformModel):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(sa.String(60))
    name_en: Mapped[str] = mapped_column(sa.String(80))
    requirements: Mapped[list] = mapped_column(sa.JSON, default=list)
    sort: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    def name(self, locale: str) -> str:
        return self.name_zh if str(locale).startswith("zh") else self.name_en


DEFAULT_PERMITS = [
    ("food_business_licence", "食品经营许可证", "Food business licence"),
    ("food_filing_receipt", "仅销售预包装食品备案凭证", "Pre-packaged food filing receipt"),
    ("special_food_registration", "特殊食品注册或备案凭证", "Special food registration or filing"),
    ("medical_device_ii_filing", "第二类医疗器械经营备案凭证", "Class II medical device filing"),
    ("publication_licence", "出版物经营许可证", "Publication business licence"),
    ("cosmetics_filing", "化妆品备案凭证", "Cosmetics product filing"),
]

DEFAULT_CATEGORIES = [
    ("general", "百货", "General merchandise", []),
    ("apparel", "服饰鞋包", "Apparel, shoes and bags", []),
    ("electronics", "数码电器", "Electronics", []),
    ("farm_produce", "食用农产品", "Edible farm produce", []),
    ("food_prepackaged", "预包装食品", "Pre-packaged food", [["food_business_licence", "food_filing_receipt"]]),
    ("food_bulk", "散装食品与现制食品", "Bulk and fresh-made food", [["food_business_licence"]]),
    (
        "special_food",
        "保健食品与特殊食品",
        "Health and special food",
        [["food_business_licence", "food_filing_receipt"], ["special_food_registration"]],
    ),
    ("cosmetics", "美妆个护", "Cosmetics", [["cosmetics_filing"]]),
    ("medical_device_ii", "第二类医疗器械", "Class II medical devices", [["medical_device_ii_filing"]]),
    ("books", "图书音像", "Books and publications", [["publication_licence"]]),
]


def seed_defaults() -> int:
    """Insert the default permits and categories that are missing; returns how many."""
    added = 0
    for code, zh, en in DEFAULT_PERMITS:
        if db.session.get(PermitKind, code) is None:
            db.session.add(PermitKind(code=code, name_zh=zh, name_en=en))
            added += 1
    for sort, (code, zh, en, requirements) in enumerate(DEFAULT_CATEGORIES):
        if db.session.get(Category, code) is None:
            db.session.add(Category(code=code, name_zh=zh, name_en=en, requirements=requirements, sort=sort))
            added += 1
    db.session.commit()
    return added


def active_categories() -> list[Category]:
    return list(
        db.session.execute(db.select(Category).where(Category.active.is_(True)).order_by(Category.sort)).scalars()
    )


def permit_kinds() -> dict[str, PermitKind]:
    return {p.code: p for p in db.session.execute(db.select(PermitKind)).scalars()}


def permit_names(codes) -> str:
    """``"食品经营许可证、…"``: the permit kinds' names in the current locale (codes of unknown kinds as is)."""
    from flask_babel import get_locale

    locale = str(get_locale() or "zh_CN")
    kinds = permit_kinds()
    names = [kinds[code].name(locale) if code in kinds else code for code in codes]
    return ("、" if locale.startswith("zh") else ", ").join(names)


def required_kinds(category: Category) -> list[str]:
    """Every permit kind named by the category, in order (for building the form)."""
    seen: list[str] = []
    for group in category.requirements or []:
        seen.extend(kind for kind in group if kind not in seen)
    return seen


def unmet_groups(category: Category, provided: set[str]) -> list[list[str]]:
    """The requirement groups that none of ``provided`` satisfies."""
    return [group for group in category.requirements or [] if not provided.intersection(group)]


def parse_requirements(raw: str) -> list[list[str]]:
    """``"a|b; c"`` → ``[["a", "b"], ["c"]]`` (the admin page's text form)."""
    return [
        [kind.strip() for kind in group.split("|") if kind.strip()] for group in (raw or "").split(";") if group.strip()
    ]


def format_requirements(groups: list[list[str]]) -> str:
    return "; ".join(" | ".join(group) for group in groups or [])


def update_requirements(category: Category, groups: list[list[str]], admin) -> Category:
    """Replace a category's requirement groups (every permit kind must exist); audited."""
    known = permit_kinds()
    unknown = sorted({kind for group in groups for kind in group} - set(known))
    if unknown or any(not group for group in groups):
        raise ValidationFailed(
            {"requirements": ("unknown_permit", _("Unknown permit kinds: %(kinds)s", kinds=", ".join(unknown) or "—"))}
        )
    before = category.requirements
    category.requirements = [list(dict.fromkeys(group)) for group in groups]
    audit.record(
        "category.requirements_changed",
        actor=admin,
        target=f"category:{category.code}",
        detail={"before": before, "after": category.requirements},
    )
    db.session.commit()
    return category
