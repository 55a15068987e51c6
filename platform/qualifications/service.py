"""Submitting, reviewing and re-verifying qualifications (lapse dates: :mod:`.expiry`). Every
decision goes to the audit log."""

from __future__ import annotations

import uuid
from datetime import date, timedelta, UTC

from flask import current_app
from flask_babel import force_locale, gettext as _

from mallow import audit, notices
from mallow.db import db, utcnow
from mallow.media.image_checks import ImageRejected, rejection_message
from mallow.media.images import delete_stored, store_image
from mallow.qualifications import expiry, idcard, uscc
from mallow.qualifications.matrix import Category, permit_kinds, required_kinds, unmet_groups
from mallow.qualifications.models import QUALIFICATION_STATES, SUBJECT_TYPES, Qualification, QualificationPermit
from mallow.security import crypto
from mallow.statemachine import InvalidTransition
from mallow.tenants.context import store_context
from mallow.tenants.models import STORE_STATES, Store
from mallow.validation import CN_MOBILE_RE, EMAIL_RE, Errors, ValidationFailed, text

#: E-Commerce Law art. 27: approved documents are verified again at least every six months
REVERIFY_AFTER = timedelta(days=180)
#: after asking for a resubmission, the qualification is due again if nothing came by then
RESUBMIT_WITHIN = timedelta(days=30)

USCC_MESSAGES = {
    "length": lambda: _("A Unified Social Credit Code has 18 characters."),
    "charset": lambda: _("Only digits and the letters A–Y without I, O, S, V, Z may appear."),
    "authority": lambda: _("The first character (registering authority) is not valid."),
    "check": lambda: _("The check character does not match: please compare with the licence."),
}


def _date(raw: str, errors: Errors, field: str, *, allow_long_term: bool) -> date | None:
    if allow_long_term and raw in ("", "long_term", "长期"):
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        errors.add(field, "invalid", _("Enter a date as YYYY-MM-DD."))
        return None
    if value < date.today():
        errors.add(field, "expired", _("This document has expired."))
    return value


def latest(store_id: int) -> Qualification | None:
    return db.session.execute(
        db.select(Qualification)
        .where(Qualification.store_id == store_id)
        .order_by(Qualification.revision.desc())
        .limit(1)
    ).scalar_one_or_none()


def history(store_id: int) -> list[Qualification]:
    return list(
        db.session.execute(
            db.select(Qualification).where(Qualification.store_id == store_id).order_by(Qualification.revision.desc())
        ).scalars()
    )


def submit(store: Store, merchant, form, files) -> tuple[Qualification, bool]:
    """Validate and save a submission. Returns ``(qualification, created)``; the same
    ``application_id`` sent again returns the first result with ``created=False``."""
    application_id = text(form, "application_id", 64) or uuid.uuid4().hex
    existing = db.session.execute(
        db.select(Qualification).filter_by(application_id=application_id)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.store_id != store.id:
            raise ValidationFailed({"application_id": ("taken", _("This application id belongs to another store."))})
        return existing, False

    errors = Errors()
    category = db.session.get(Category, store.main_category)
    subject_type = text(form, "subject_type")
    if subject_type not in SUBJECT_TYPES:
        errors.add("subject_type", "invalid", _("Choose the kind of business."))
    code = uscc.normalise(text(form, "uscc", 40))
    problem = uscc.problem(code)
    if problem:
        errors.add("uscc", problem, USCC_MESSAGES[problem]())
    elif subject_type in ("enterprise", "individual_business") and uscc.entity_type(code) not in (None, subject_type):
        errors.add("uscc", "subject_mismatch", _("This code belongs to another kind of business than the one chosen."))
    fields = {}
    for field, limit, message in (
        ("legal_name", 120, _("Enter the name exactly as on the business licence.")),
        ("legal_representative", 60, _("Enter the legal representative's name.")),
        ("registered_address", 200, _("Enter the registered address.")),
        ("contact_name", 60, _("Enter a contact person.")),
    ):
        fields[field] = text(form, field, limit)
        if not fields[field]:
            errors.add(field, "required", message)
    id_number = idcard.normalise(text(form, "legal_rep_id_number", 30))
    if not idcard.is_valid(id_number):
        errors.add("legal_rep_id_number", "invalid", _("Enter a valid 18-character resident ID number."))
    phone = text(form, "contact_phone", 20).replace(" ", "").replace("-", "")
    if not CN_MOBILE_RE.match(phone):
        errors.add("contact_phone", "invalid", _("Enter an 11-digit mainland mobile number."))
    email = text(form, "contact_email", 254).lower()
    if email and not EMAIL_RE.match(email):
        errors.add("contact_email", "invalid", _("Enter a valid e-mail address."))
    licence_until = _date(text(form, "licence_valid_until"), errors, "licence_valid_until", allow_long_term=True)

    kinds = permit_kinds()
    wanted = required_kinds(category) if category else []
    provided: dict[str, dict] = {}
    for kind in wanted:
        number = text(form, f"permit_{kind}_number", 60)
        upload = files.get(f"permit_{kind}_image")
        if not number and not (upload and upload.filename):
            continue
        if not number:
            errors.add(f"permit_{kind}_number", "required", _("Enter the permit number."))
        until = _date(
            text(form, f"permit_{kind}_valid_until"), errors, f"permit_{kind}_valid_until", allow_long_term=False
        )
        provided[kind] = {"number": number, "valid_until": until, "upload": upload}
    for group in unmet_groups(category, set(provided)) if category else []:
        names = _(" or ").join(kinds[k].name_zh if kinds.get(k) else k for k in group)
        errors.add(
            f"permit_{group[0]}_number",
            "missing_permit",
            _("The category %(category)s requires: %(permits)s.", category=category.name_zh, permits=names),
        )

    # Images last: only stored when everything else is right, removed again if anything fails.
    # They go straight through store_image (pixel limit, image slots: ImagesBusy is a 503), not
    # the media library, which refuses a store that is not open: these are what a pending store
    # uploads.
    stored: list[str] = []
    try:
        if not errors.errors:
            images = {"licence_image": files.get("licence_image")}
            images.update({f"permit_{kind}_image": p["upload"] for kind, p in provided.items()})
            for field, upload in images.items():
                try:
                    stored.append(store_image(upload, f"{store.id}/qualifications").path)
                except ImageRejected as rejected:
                    errors.add(field, rejected.code, rejection_message(rejected.code))
                    stored.append("")
        errors.raise_if_any()
        previous = latest(store.id)
        if previous is not None and previous.status == "submitted":
            QUALIFICATION_STATES.move(previous, "superseded")
        qualification = Qualification(
            store_id=store.id,
            application_id=application_id,
            revision=(previous.revision + 1) if previous else 1,
            status="submitted",
            category=store.main_category,
            subject_type=subject_type,
            uscc=code,
            legal_rep_id_cipher=crypto.encrypt(id_number),
            legal_rep_id_masked=crypto.mask(id_number, 3, 4),
            contact_phone_cipher=crypto.encrypt(phone),
            contact_phone_masked=crypto.mask(phone),
            contact_email=email or None,
            licence_valid_until=licence_until,
            licence_image=stored[0],
            submitted_by=merchant.id,
            **fields,
        )
        for (kind, permit), image in zip(provided.items(), stored[1:], strict=False):
            qualification.permits.append(
                QualificationPermit(kind=kind, number=permit["number"], valid_until=permit["valid_until"], image=image)
            )
        db.session.add(qualification)
        audit.record(
            "qualification.submitted",
            actor=merchant,
            store_id=store.id,
            target=f"qualification:{application_id}",
            detail={"revision": qualification.revision},
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in stored:
            if path:
                delete_stored(path)
        raise
    return qualification, True


QUEUES = ("submitted", "reverify", "approved", "rejected", "expired", "superseded", "all")


def review_queue(status: str | None = "submitted") -> list[Qualification]:
    """A queue of the review page: a status, ``reverify`` (approved, due for the periodic
    re-verification: oldest due first) or None for all."""
    if status == "reverify":
        return list(
            db.session.execute(
                db.select(Qualification)
                .where(Qualification.status == "approved", Qualification.review_due_at <= utcnow())
                .order_by(Qualification.review_due_at)
            ).scalars()
        )
    query = db.select(Qualification).order_by(Qualification.submitted_at)
    if status:
        query = query.where(Qualification.status == status)
    return list(db.session.execute(query).scalars())


def is_due(qualification: Qualification) -> bool:
    """Approved and past its re-verification date (what the ``reverify`` queue lists)."""
    due = qualification.review_due_at
    if qualification.status != "approved" or due is None:
        return False
    due = due if due.tzinfo else due.replace(tzinfo=UTC)  # SQLite gives naive UTC back
    return due <= utcnow()


def _approved_only(qualification: Qualification) -> None:
    if qualification.status != "approved":
        raise InvalidTransition("qualification", qualification.status, "re-verified")


def approve(qualification: Qualification, admin, reason: str = "") -> Qualification:
    """Approve a submission: it replaces the store's approved one, a pending store (or one closed
    by a lapsed document) opens, and the store's shelf and notices follow the new documents."""
    QUALIFICATION_STATES.check(qualification.status, "approved")
    store = db.session.get(Store, qualification.store_id)
    for other in db.session.execute(
        db.select(Qualification).where(Qualification.store_id == store.id, Qualification.status == "approved")
    ).scalars():
        QUALIFICATION_STATES.move(other, "superseded")
    QUALIFICATION_STATES.move(qualification, "approved")
    qualification.decided_by, qualification.decided_at = admin.id, utcnow()
    qualification.decision_reason = reason[:500] or None
    qualification.review_due_at = utcnow() + REVERIFY_AFTER
    if store.status == "pending" or (store.status == "suspended" and store.status_reason == expiry.LAPSED_REASON):
        previous = STORE_STATES.move(store, "open")
        store.opened_at = store.opened_at or utcnow()
        store.status_reason = None
        audit.record(
            "store.opened", actor=admin, store_id=store.id, target=f"store:{store.slug}", detail={"from": previous}
        )
    audit.record(
        "qualification.approved",
        actor=admin,
        store_id=store.id,
        target=f"qualification:{qualification.id}",
        detail={"reason": reason},
    )
    store_id = store.id  # read before the commit expires it: the check runs on a connection of its own
    db.session.commit()
    expiry.check_now(store_id)
    return qualification


def reverify(qualification: Qualification, admin, reason: str = "") -> Qualification:
    """The periodic re-verification found the approved documents still right: due again later."""
    _approved_only(qualification)
    qualification.review_due_at = utcnow() + REVERIFY_AFTER
    audit.record(
        "qualification.reverified",
        actor=admin,
        store_id=qualification.store_id,
        target=f"qualification:{qualification.id}",
        detail={"reason": reason[:500]},
    )
    db.session.commit()
    return qualification


def request_resubmission(qualification: Qualification, admin, reason: str) -> Qualification:
    """The re-verification needs new documents: the merchant is asked (a console notice), the store
    stays open, and the qualification is due again after :data:`RESUBMIT_WITHIN` if nothing came."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ("required", _("Tell the merchant what to resubmit."))})
    _approved_only(qualification)
    qualification.review_due_at = utcnow() + RESUBMIT_WITHIN
    audit.record(
        "qualification.resubmission_requested",
        actor=admin,
        store_id=qualification.store_id,
        target=f"qualification:{qualification.id}",
        detail={"reason": reason[:500]},
    )
    store_id, key = qualification.store_id, f"q{qualification.id}:resubmit"
    db.session.commit()
    with store_context(store_id), force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        notices.raise_notice(
            expiry.NOTICE_KIND,
            key,
            _(
                "The platform's periodic check asks you to resubmit your qualifications: %(reason)s",
                reason=reason[:200],
            ),
            {"reason": reason[:500]},
        )
        db.session.commit()
    return qualification


def reject(qualification: Qualification, admin, reason: str, field_reasons: dict | None = None) -> Qualification:
    reason = (reason or "").strip()
    field_reasons = {str(k)[:60]: str(v)[:300] for k, v in (field_reasons or {}).items() if str(v).strip()}
    if not reason:
        raise ValidationFailed({"reason": ("required", _("Tell the merchant why, so they can fix it."))})
    QUALIFICATION_STATES.move(qualification, "rejected")
    qualification.decided_by, qualification.decided_at = admin.id, utcnow()
    qualification.decision_reason, qualification.field_reasons = reason[:500], field_reasons
    audit.record(
        "qualification.rejected",
        actor=admin,
        store_id=qualification.store_id,
        target=f"qualification:{qualification.id}",
        detail={"reason": reason, "fields": field_reasons},
    )
    db.session.commit()
    return qualification
