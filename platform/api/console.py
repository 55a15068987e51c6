"""Store console API (``/s/<slug>/api/console``): staff of that store, bearer tokens."""

from __future__ import annotations

from flask import jsonify, request

from flask import abort

from mallow.accounts import staff as team
from mallow.accounts.guards import principal, staff_required
from mallow.api.registry import nullable, obj, operation, returns, shape, string
from mallow.api.views import QUALIFICATION, QUALIFICATIONS, qualification_json
from mallow.media.upload_limits import BUSY_RESPONSE, STORAGE_FULL_RESPONSE
from mallow.qualifications import service
from mallow.tenants.context import current_store

QUALIFICATION_FORM = {
    "type": "object",
    "required": [
        "subject_type",
        "uscc",
        "legal_name",
        "legal_representative",
        "legal_rep_id_number",
        "registered_address",
        "contact_name",
        "contact_phone",
        "licence_image",
    ],
    "properties": {
        "application_id": {
            "type": "string",
            "maxLength": 64,
            "description": "your id for this submission: sending it again returns the same result",
        },
        "subject_type": {"type": "string", "enum": ["enterprise", "individual_business", "other"]},
        "uscc": {"type": "string", "description": "Unified Social Credit Code (GB 32100-2015)"},
        "legal_name": {"type": "string"},
        "legal_representative": {"type": "string"},
        "legal_rep_id_number": {"type": "string"},
        "registered_address": {"type": "string"},
        "licence_valid_until": {"type": "string", "format": "date", "description": "empty = long term"},
        "licence_image": {"type": "string", "format": "binary"},
        "contact_name": {"type": "string"},
        "contact_phone": {"type": "string"},
        "contact_email": {"type": "string", "format": "email"},
    },
    "patternProperties": {
        "^permit_[a-z0-9_]+_(number|valid_until)$": {"type": "string"},
        "^permit_[a-z0-9_]+_image$": {"type": "string", "format": "binary"},
    },
}


@operation(
    "console_api",
    "POST",
    "/qualifications",
    "submitQualification",
    "Submit (or resubmit) the store's qualifications for review",
    tag="qualifications",
    auth="merchant",
    body=QUALIFICATION_FORM,
    body_type="multipart/form-data",
    responses={
        "201": returns("Submitted", QUALIFICATION),
        "200": returns("This application_id was submitted before: the first result", QUALIFICATION),
        "422": {"$ref": "#/components/responses/ValidationFailed"},
        "503": BUSY_RESPONSE,
        "507": STORAGE_FULL_RESPONSE,
    },
)
@staff_required(owner=True)
def submit_qualification():
    qualification, created = service.submit(current_store(), principal("merchant"), request.form, request.files)
    return jsonify(qualification_json(qualification)), 201 if created else 200


@operation(
    "console_api",
    "GET",
    "/qualifications",
    "listStoreQualifications",
    "This store's submissions, newest first, with review outcomes",
    tag="qualifications",
    auth="merchant",
    responses={"200": returns("The submissions", QUALIFICATIONS)},
)
@staff_required
def list_store_qualifications():
    return jsonify(items=[qualification_json(q) for q in service.history(current_store().id)])


def _member_json(row, account) -> dict:
    return {
        "id": row.id,
        "role": row.role,
        "merchant_id": row.merchant_id,
        "email": account.email if account else None,
        "name": account.name if account else None,
    }


MEMBER = shape(
    {
        "id": {"type": "integer"},
        "role": {"type": "string", "enum": ["owner", "staff"]},
        "merchant_id": {"type": "integer"},
        "email": nullable({"type": "string"}),
        "name": nullable({"type": "string"}),
    }
)


@operation(
    "console_api",
    "GET",
    "/staff",
    "listStaff",
    "The store's team",
    tag="staff",
    auth="merchant",
    responses={"200": returns("The team", shape({"items": {"type": "array", "items": MEMBER}}))},
)
@staff_required
def list_staff():
    return jsonify(items=[_member_json(row, account) for row, account in team.members()])


@operation(
    "console_api",
    "POST",
    "/staff",
    "addStaff",
    "Add a staff member by e-mail (a new account needs an initial password)",
    tag="staff",
    auth="merchant",
    body=obj({"email": string(254), "name": string(60), "password": string(128)}, ["email"]),
    responses={"201": returns("Added", MEMBER), "422": {"$ref": "#/components/responses/ValidationFailed"}},
)
@staff_required(owner=True)
def add_staff():
    row = team.add(current_store(), principal("merchant"), request.get_json())
    return jsonify(_member_json(*next((r, a) for r, a in team.members() if r.id == row.id))), 201


@operation(
    "console_api",
    "DELETE",
    "/staff/<int:staff_id>",
    "removeStaff",
    "Remove a staff member: their access ends with their next request",
    tag="staff",
    auth="merchant",
    responses={"204": "Removed", "404": "No such member", "422": {"$ref": "#/components/responses/ValidationFailed"}},
)
@staff_required(owner=True)
def remove_staff(staff_id):
    try:
        team.remove(current_store(), principal("merchant"), staff_id)
    except LookupError:
        abort(404)
    return "", 204
