"""JSON shapes shared by the API modules."""
from __future__ import annotations

from flask import url_for


def store_json(store, private: bool = False) -> dict:
    data = {"id": store.id, "slug": store.slug, "name": store.name, "main_category": store.main_category,
            "status": store.status, "url": url_for("storefront.home", store_slug=store.slug, _external=True)}
    if private:
        data["status_reason"] = store.status_reason
    return data


def qualification_json(q, admin: bool = False) -> dict:
    return {
        "id": q.id, "store_id": q.store_id, "application_id": q.application_id, "revision": q.revision,
        "status": q.status, "category": q.category, "subject_type": q.subject_type, "uscc": q.uscc,
        "legal_name": q.legal_name, "legal_representative": q.legal_representative,
        "legal_rep_id": q.legal_rep_id_masked, "registered_address": q.registered_address,
        "licence_valid_until": q.licence_valid_until.isoformat() if q.licence_valid_until else None,
        "contact_name": q.contact_name, "contact_phone": q.contact_phone_masked, "contact_email": q.contact_email,
        "permits": [{"kind": p.kind, "number": p.number,
                     "valid_until": p.valid_until.isoformat() if p.valid_until else None} for p in q.permits],
        "submitted_at": q.submitted_at.isoformat(), "decided_at": q.decided_at.isoformat() if q.decided_at else None,
        "decision_reason": q.decision_reason, "field_reasons": q.field_reasons or {},
    }
