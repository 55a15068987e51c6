"""The absolute-term list (极限词): platform data that platform admins edit.

Each term has a kind (最…, 第一/唯一, …), an optional reason of its own (otherwise the kind's,
translated), and an action: ``flag`` (saved, recorded for review) or ``block`` (the save is
refused). ``block_categories`` names the store categories where a ``flag`` term blocks all the
same: the medical and efficacy claims are refused on food, cosmetics and health food and only
flagged elsewhere. Every change is audited and moves the list's revision, so every process
rebuilds its matcher on its next check (:func:`current_matcher`).

The mandatory statements (法定警示语) are platform data edited the same way: legally required
warnings such as "保健食品不是药物，不能代替药物治疗疾病" that contain listed terms (治疗) but must be
written; a term wholly inside one (after the matcher's folding) is not reported. They share the
list's revision and audit log.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from mallow import audit
from mallow.compliance.matcher import Matcher, build, fold
from mallow.db import PlatformModel, db, utcnow
from mallow.qualifications.matrix import Category
from mallow.validation import Errors

ACTIONS = ("flag", "block")
TERM_MAX = 40
REASON_MAX = 200
STATEMENT_MAX = 200
STATEMENT_KEY_MAX = 400
BASIS_MAX = 200

#: kind code → (label, default reason shown to the merchant)
KINDS = {
    "superlative": (
        _l("Superlatives (最…)"),
        _l(
            "Absolute superlatives such as best, highest or lowest are banned in advertising (Advertising Law "
            "art. 9(3)); keep one only for a verifiable fact limited in time and scope."
        ),
    ),
    "first_only": (
        _l("First / only (第一, 唯一)"),
        _l(
            "Claims of being number one or the only one are absolute terms (Advertising Law art. 9(3)); give the "
            "source, time and scope of a verifiable ranking, or remove the claim."
        ),
    ),
    "grade": (
        _l("Grades (…级, 极…)"),
        _l(
            "Grade claims such as national-level, world-class or top-grade are absolute terms (Advertising Law "
            "art. 9(3)) unless the grade is defined by an official standard."
        ),
    ),
    "first_exclusive": (
        _l("First / exclusive (首…, 独家)"),
        _l(
            "Claims of being the first, the preferred choice or the exclusive seller need proof; without it they "
            "are absolute terms (Advertising Law art. 9(3))."
        ),
    ),
    "endorsement": (
        _l("Endorsements (背书)"),
        _l(
            "Advertising must not use the name of state organs or their staff, nor claim special supply or "
            "exemption from inspection (Advertising Law art. 9)."
        ),
    ),
    "absolute": (
        _l("Absolute promises (绝对, 100%)"),
        _l(
            "Absolute promises such as 100%, permanent or unprecedented are absolute terms (Advertising Law "
            "art. 9(3)) and mislead buyers."
        ),
    ),
    "urgency": (
        _l("Pressure to buy (诱导抢购)"),
        _l(
            "Invented deadlines, price rises or rushes mislead buyers (Advertising Law art. 28); say only what "
            "is true, with its dates."
        ),
    ),
    "medical": (
        _l("Medical and efficacy claims (医疗功效)"),
        _l(
            "Only medicines and medical devices may claim to treat or prevent disease (Advertising Law art. 17); "
            "food, cosmetics and health food must not."
        ),
    ),
}

#: store categories (``qualifications/matrix.py``) of food, cosmetics and health food
FOOD_COSMETICS_HEALTH = ("farm_produce", "food_prepackaged", "food_bulk", "special_food", "cosmetics")


class Term(PlatformModel):
    __tablename__ = "compliance_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(sa.String(TERM_MAX))
    #: the matcher's folded form of the term (matcher.fold: half-width, simplified, digits, lower case, no separators)
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20), index=True)
    action: Mapped[str] = mapped_column(sa.String(8), default="flag")
    block_categories: Mapped[list] = mapped_column(sa.JSON, default=list)
    reason: Mapped[str] = mapped_column(sa.String(REASON_MAX), default="")
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.CheckConstraint("action IN ('flag', 'block')", name="action"),)

    def as_dict(self) -> dict:
        return {
            "term": self.term,
            "kind": self.kind,
            "action": self.action,
            "block_categories": list(self.block_categories or []),
            "reason": self.reason,
            "active": self.active,
        }


class MandatoryStatement(PlatformModel):
    """A legally required warning: terms wholly inside it are not reported."""

    __tablename__ = "compliance_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(STATEMENT_MAX))
    #: the matcher's form of the text (as a term's key): two statements never fold alike
    key: Mapped[str] = mapped_column(sa.String(STATEMENT_KEY_MAX), unique=True)
    #: where the law requires it (shown to admins), e.g. "广告法第十八条"
    basis: Mapped[str] = mapped_column(sa.String(BASIS_MAX), default="")
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def as_dict(self) -> dict:
        return {"text": self.text, "basis": self.basis, "active": self.active}


class TermListRevision(PlatformModel):
    """One row: the revision of the whole list, moved by every change (a locked UPDATE, so two
    admins saving at once get two revisions)."""

    __tablename__ = "compliance_term_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(default=0)


def kind_label(kind: str) -> str:
    return str(KINDS[kind][0]) if kind in KINDS else kind


def reason_text(kind: str, own_reason: str | None = "") -> str:
    """What the merchant is shown: the term's own reason, else its kind's (translated)."""
    if own_reason:
        return own_reason
    return str(KINDS[kind][1]) if kind in KINDS else ""


def revision() -> int:
    return db.session.execute(sa.select(TermListRevision.revision).where(TermListRevision.id == 1)).scalar() or 0


def _bump_revision() -> None:
    moved = db.session.execute(
        sa.update(TermListRevision).where(TermListRevision.id == 1).values(revision=TermListRevision.revision + 1)
    )
    if moved.rowcount == 0:
        db.session.add(TermListRevision(id=1, revision=1))


def all_terms(kind: str | None = None) -> list[Term]:
    query = sa.select(Term).order_by(Term.kind, Term.id)
    if kind:
        query = query.where(Term.kind == kind)
    return list(db.session.execute(query).scalars())


def active_terms() -> list[Term]:
    return list(db.session.execute(sa.select(Term).where(Term.active.is_(True)).order_by(Term.id)).scalars())


def all_statements() -> list[MandatoryStatement]:
    return list(db.session.execute(sa.select(MandatoryStatement).order_by(MandatoryStatement.id)).scalars())


def active_statements() -> list[MandatoryStatement]:
    return list(
        db.session.execute(
            sa.select(MandatoryStatement).where(MandatoryStatement.active.is_(True)).order_by(MandatoryStatement.id)
        ).scalars()
    )


class _Cached:
    def __init__(self):
        self.revision: int | None = None
        self.matcher: Matcher | None = None
        self.builds = 0
        self.lock = threading.Lock()


def current_matcher() -> Matcher:
    """The matcher of the current term and statement lists (rebuilt when an admin changed one)."""
    cached = current_app.extensions.setdefault("mallow.compliance", _Cached())
    now = revision()
    if cached.matcher is None or cached.revision != now:
        with cached.lock:
            if cached.matcher is None or cached.revision != now:
                cached.matcher = build(active_terms(), active_statements())
                cached.revision = now
                cached.builds += 1
    return cached.matcher


def _active(data) -> bool:
    return data.get("active") not in (None, "", "0", False, "false")


def _clean(data, category_codes: set[str], current: Term | None) -> dict:
    errors = Errors()
    term = str(data.get("term") or "").strip()
    key = fold(term)[0]
    if not key:
        errors.add("term", "required", _("Required."))
    elif len(term) > TERM_MAX or len(key) > 80:
        errors.add("term", "too_long", _("Use at most %(max)s characters.", max=TERM_MAX))
    else:
        clash = db.session.execute(sa.select(Term).where(Term.key == key)).scalar_one_or_none()
        if clash is not None and clash is not current:
            errors.add("term", "duplicate", _("“%(term)s” is on the list already.", term=clash.term))
    kind = data.get("kind")
    if kind not in KINDS:
        errors.add("kind", "unknown", _("This value is not valid."))
    action = data.get("action")
    if action not in ACTIONS:
        errors.add("action", "unknown", _("This value is not valid."))
    getlist = getattr(data, "getlist", None)
    categories = getlist("block_categories") if getlist else list(data.get("block_categories") or [])
    categories = sorted({str(c) for c in categories})
    if set(categories) - category_codes:
        errors.add("block_categories", "unknown", _("This value is not valid."))
    reason = str(data.get("reason") or "").strip()
    if len(reason) > REASON_MAX:
        errors.add("reason", "too_long", _("Use at most %(max)s characters.", max=REASON_MAX))
    errors.raise_if_any()
    return {
        "term": term,
        "key": key,
        "kind": kind,
        "action": action,
        "block_categories": categories,
        "reason": reason,
        "active": _active(data),
    }


def save_term(term: Term | None, data, admin) -> Term:
    """Add (``term`` None) or change a term; ``ValidationFailed`` names the form's fields."""
    codes = set(db.session.execute(sa.select(Category.code)).scalars())
    values = _clean(data, codes, term)
    before = term.as_dict() if term is not None else None
    if term is None:
        term = Term(**values)
        db.session.add(term)
    else:
        for name, value in values.items():
            setattr(term, name, value)
    db.session.flush()
    audit.record(
        "compliance.term_added" if before is None else "compliance.term_changed",
        actor=admin,
        target=f"compliance_term:{term.id}",
        detail={"before": before, "after": term.as_dict()},
    )
    _bump_revision()
    db.session.commit()
    return term


def _clean_statement(data, current: MandatoryStatement | None) -> dict:
    errors = Errors()
    text = str(data.get("text") or "").strip()
    key = fold(text)[0]
    if not key:
        errors.add("text", "required", _("Required."))
    elif len(text) > STATEMENT_MAX or len(key) > STATEMENT_KEY_MAX:
        errors.add("text", "too_long", _("Use at most %(max)s characters.", max=STATEMENT_MAX))
    else:
        clash = db.session.execute(
            sa.select(MandatoryStatement).where(MandatoryStatement.key == key)
        ).scalar_one_or_none()
        if clash is not None and clash is not current:
            errors.add("text", "duplicate", _("“%(term)s” is on the list already.", term=clash.text))
    basis = str(data.get("basis") or "").strip()
    if len(basis) > BASIS_MAX:
        errors.add("basis", "too_long", _("Use at most %(max)s characters.", max=BASIS_MAX))
    errors.raise_if_any()
    return {"text": text, "key": key, "basis": basis, "active": _active(data)}


def save_statement(statement: MandatoryStatement | None, data, admin) -> MandatoryStatement:
    """Add (``statement`` None) or change a mandatory statement; audited, moves the revision."""
    values = _clean_statement(data, statement)
    before = statement.as_dict() if statement is not None else None
    if statement is None:
        statement = MandatoryStatement(**values)
        db.session.add(statement)
    else:
        for name, value in values.items():
            setattr(statement, name, value)
    db.session.flush()
    audit.record(
        "compliance.statement_added" if before is None else "compliance.statement_changed",
        actor=admin,
        target=f"compliance_statement:{statement.id}",
        detail={"before": before, "after": statement.as_dict()},
    )
    _bump_revision()
    db.session.commit()
    return statement
