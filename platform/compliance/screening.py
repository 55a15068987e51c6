"""Checking merchant texts on save: the one entry point of the save paths.

* :func:`check_fields` — ``{field: text}`` → every match, field by field; a match that blocks in
  the store's category (or that the platform upheld for this field) raises
  :class:`~mallow.validation.ValidationFailed` naming the field, the term and why.
* :func:`screen` — ``check_fields`` for one object of the active store, then its findings are
  brought up to date in the caller's transaction: new flagged terms are added (``open``), ones
  still there keep their state (an overturned finding is not raised again), ones gone are
  ``cleared``; a store notice says what needs review.
* :func:`screen_product` — the texts of a product (title, subtitle, spec names and values,
  description text), screened on every save (the catalogue's ``product_saved`` event).

A page's texts are the page builder's to name (:mod:`mallow.builder.page_words` calls
:func:`screen`): compliance sits below the builder and imports nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from mallow.catalog import richtext
from mallow.compliance.findings import Finding, excerpt, live_findings, move, sync_notice
from mallow.compliance.matcher import Match
from mallow.compliance.terms import current_matcher, reason_text
from mallow.db import db
from mallow.tenants.context import current_store
from mallow.validation import ValidationFailed


@dataclass(frozen=True)
class FieldMatch:
    field: str
    match: Match
    #: why the save is refused: ``"term"`` (the term blocks in this category), ``"appeal"`` (the
    #: platform upheld this finding), or None (flagged only)
    refused_by: str | None = None

    @property
    def blocked(self) -> bool:
        return self.refused_by is not None

    @property
    def term(self) -> str:
        return self.match.term

    @property
    def kind(self) -> str:
        return self.match.rule.kind

    @property
    def action(self) -> str:
        return "block" if self.blocked else "flag"

    @property
    def reason(self) -> str:
        return reason_text(self.match.rule.kind, self.match.rule.reason)

    @property
    def position(self) -> int:
        return self.match.start


def check_fields(fields: dict[str, str], *, category: str | None, upheld=frozenset()) -> list[FieldMatch]:
    """Every match in ``fields`` (term by term, in field order); raises when one blocks.

    ``upheld``: ``{(field, term)}`` the platform upheld on appeal, refused like ``block`` terms."""
    matcher = current_matcher()
    found = []
    for field, text in fields.items():
        for match in matcher.find(text or ""):
            refused_by = (
                "term" if match.rule.blocks_in(category) else "appeal" if (field, match.term) in upheld else None
            )
            found.append(FieldMatch(field, match, refused_by))
    refused: dict[str, list[FieldMatch]] = {}
    for item in found:
        if item.blocked:
            refused.setdefault(item.field, []).append(item)
    if refused:
        raise ValidationFailed({field: ("prohibited_term", _refusal(items)) for field, items in refused.items()})
    return found


def _refusal(items: list[FieldMatch]) -> str:
    terms = "、".join(dict.fromkeys(item.term for item in items))
    if items[0].refused_by == "appeal":
        return _("Remove “%(terms)s”: the platform reviewed your appeal and did not allow it here.", terms=terms)
    return _("Remove “%(terms)s”: %(reason)s", terms=terms, reason=items[0].reason)


def screen(object_kind: str, object_id: int, fields: dict[str, str], *, label: str = "") -> list[FieldMatch]:
    """Check an object of the active store and update its findings (not committed)."""
    store = current_store()
    live = live_findings(store.id, object_kind, object_id)
    upheld = frozenset((f.field, f.term) for f in live if f.status == "upheld")
    found = check_fields(fields, category=store.main_category, upheld=upheld)
    by_key = {(f.field, f.term): f for f in live}
    seen = set()
    for item in found:
        key = (item.field, item.term)
        if key in seen:
            continue  # one finding per term and field: the first place it is written
        seen.add(key)
        text = fields[item.field]
        before, after = excerpt(text, item.match.start, item.match.end)
        values = {
            "object_label": label[:120],
            "matched": item.match.text[:120],
            "position": item.position,
            "before": before[:40],
            "after": after[:40],
            "kind": item.kind,
            "reason": item.match.rule.reason,
        }
        finding = by_key.get(key)
        if finding is None:
            db.session.add(
                Finding(
                    store_id=store.id,
                    object_kind=object_kind,
                    object_id=object_id,
                    field=item.field,
                    term=item.term,
                    status="open",
                    **values,
                )
            )
        else:
            for name, value in values.items():
                setattr(finding, name, value)
    for key, finding in by_key.items():
        if key not in seen:
            move(finding, "cleared")
    db.session.flush()
    sync_notice(object_kind, object_id, label)
    return found


# -- a product's texts -----------------------------------------------------------------------


def product_fields(product) -> dict[str, str]:
    """Field names as the product API names them (``specs.<i>…`` map to the form's spec box)."""
    fields = {
        "title": product.title or "",
        "subtitle": product.subtitle or "",
        "description_html": richtext.text_of(product.description_html),
    }
    for i, axis in enumerate(product.specs or []):
        fields[f"specs.{i}.name"] = str(axis.get("name") or "")
        for j, value in enumerate(axis.get("values") or []):
            fields[f"specs.{i}.values.{j}"] = str(value)
    return {name: text for name, text in fields.items() if text}


def screen_product(product) -> list[FieldMatch]:
    return screen("product", product.id, product_fields(product), label=product.title or "")
