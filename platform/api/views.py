"""JSON shapes shared by the API modules."""

from __future__ import annotations

from datetime import UTC

from flask import url_for

from mallow.api.registry import nullable, schema, shape
from mallow.qualifications.models import QUALIFICATION_STATES
from mallow.tenants.models import STORE_STATES

_INT, _TEXT = {"type": "integer"}, {"type": "string"}
_DATE = nullable({"type": "string", "format": "date"})
STORE = schema(
    "Store",
    shape(
        {
            "id": _INT,
            "slug": _TEXT,
            "name": _TEXT,
            "main_category": _TEXT,
            "status": {"type": "string", "enum": list(STORE_STATES.states)},
            "url": _TEXT,
            "status_reason": nullable({**_TEXT, "description": "its staff and admins only"}),
            "closed_at": nullable({**_TEXT, "format": "date-time", "description": "its staff and admins only"}),
            "purge_after": nullable(
                {
                    **_TEXT,
                    "format": "date-time",
                    "description": "its staff and admins only: a closed store's data are deleted after this "
                    "moment (MALLOW_STORE_RETENTION_DAYS after closed_at)",
                }
            ),
            "business_licence": shape({"legal_name": _TEXT, "uscc": _TEXT}),
            "qualification": nullable(
                shape({"status": _TEXT, "decision_reason": nullable(_TEXT), "field_reasons": {"type": "object"}})
            ),
        },
        optional=("status_reason", "closed_at", "purge_after", "business_licence", "qualification"),
    ),
)
QUALIFICATION = schema(
    "Qualification",
    shape(
        {
            "id": _INT,
            "store_id": _INT,
            "application_id": nullable(_TEXT),
            "revision": _INT,
            "status": {"type": "string", "enum": list(QUALIFICATION_STATES.states)},
            "category": _TEXT,
            "subject_type": _TEXT,
            "uscc": _TEXT,
            "legal_name": _TEXT,
            "legal_representative": _TEXT,
            "legal_rep_id": {**_TEXT, "description": "masked"},
            "registered_address": _TEXT,
            "licence_valid_until": _DATE,
            "contact_name": _TEXT,
            "contact_phone": {**_TEXT, "description": "masked"},
            "contact_email": nullable(_TEXT),
            "permits": {
                "type": "array",
                "items": shape({"kind": _TEXT, "number": nullable(_TEXT), "valid_until": _DATE}),
            },
            "submitted_at": _TEXT,
            "decided_at": nullable(_TEXT),
            "decision_reason": nullable(_TEXT),
            "field_reasons": {"type": "object", "additionalProperties": _TEXT},
        }
    ),
)
QUALIFICATIONS = schema("QualificationList", shape({"items": {"type": "array", "items": QUALIFICATION}}))


def iso(moment) -> str | None:
    """A timestamp as RFC 3339 (``date-time`` in the document): aware, in UTC when it came back
    naive (SQLite hands back naive UTC values; PostgreSQL aware ones)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def store_json(store, private: bool = False) -> dict:
    data = {
        "id": store.id,
        "slug": store.slug,
        "name": store.name,
        "main_category": store.main_category,
        "status": store.status,
        "url": url_for("storefront.home", store_slug=store.slug, _external=True),
    }
    if private:
        data["status_reason"] = store.status_reason
        data["closed_at"] = iso(store.closed_at)
        data["purge_after"] = iso(store.purge_after)
    return data


def qualification_json(q, admin: bool = False) -> dict:
    return {
        "id": q.id,
        "store_id": q.store_id,
        "application_id": q.application_id,
        "revision": q.revision,
        "status": q.status,
        "category": q.category,
        "subject_type": q.subject_type,
        "uscc": q.uscc,
        "legal_name": q.legal_name,
        "legal_representative": q.legal_representative,
        "legal_rep_id": q.legal_rep_id_masked,
        "registered_address": q.registered_address,
        "licence_valid_until": q.licence_valid_until.isoformat() if q.licence_valid_until else None,
        "contact_name": q.contact_name,
        "contact_phone": q.contact_phone_masked,
        "contact_email": q.contact_email,
        "permits": [
            {"kind": p.kind, "number": p.number, "valid_until": p.valid_until.isoformat() if p.valid_until else None}
            for p in q.permits
        ],
        "submitted_at": q.submitted_at.isoformat(),
        "decided_at": q.decided_at.isoformat() if q.decided_at else None,
        "decision_reason": q.decision_reason,
        "field_reasons": q.field_reasons or {},
    }
