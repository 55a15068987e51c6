"""Platform admin API beyond the review queue: stores and the category/permit matrix."""

from __future__ import annotations

from flask import abort, jsonify, request

from mallow.accounts.guards import admin_required, principal
from mallow.api.registry import obj, operation, returns, shape, string
from mallow.api.views import STORE, store_json
from mallow.db import db
from mallow.qualifications.matrix import Category, active_categories, permit_kinds, update_requirements
from mallow.stores import lifecycle as store_lifecycle
from mallow.tenants.models import STORE_STATES, Store


_TEXT = {"type": "string"}
_PERMIT = shape({"code": _TEXT, "name_zh": _TEXT, "name_en": _TEXT})
CATEGORIES = shape(
    {
        "items": {
            "type": "array",
            "items": shape(
                {
                    "code": _TEXT,
                    "name_zh": _TEXT,
                    "name_en": _TEXT,
                    "requirements": {
                        "type": "array",
                        "description": "every group must be met; any permit of a group meets it",
                        "items": {"type": "array", "items": _PERMIT},
                    },
                }
            ),
        }
    }
)
STORES = shape({"items": {"type": "array", "items": STORE}})


@operation(
    "api",
    "GET",
    "/categories",
    "listCategories",
    "Store categories and the permits each requires",
    tag="merchants",
    auth=None,
    responses={"200": returns("The categories", CATEGORIES)},
)
def list_categories():
    kinds = permit_kinds()
    return jsonify(
        items=[
            {
                "code": c.code,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "requirements": [
                    [{"code": k, "name_zh": kinds[k].name_zh, "name_en": kinds[k].name_en} for k in group if k in kinds]
                    for group in c.requirements or []
                ],
            }
            for c in active_categories()
        ]
    )


@operation(
    "api",
    "PUT",
    "/admin/categories/<code>",
    "updateCategory",
    "Replace the permit groups a category requires (all groups, any permit of a group)",
    tag="review",
    auth="admin",
    body=obj(
        {
            "requirements": {
                "type": "array",
                "items": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 40}},
            }
        },
        ["requirements"],
    ),
    parameters=[{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
    responses={
        "200": returns(
            "The category's requirements",
            shape({"code": _TEXT, "requirements": {"type": "array", "items": {"type": "array", "items": _TEXT}}}),
        )
    },
)
@admin_required
def update_category(code):
    category = db.session.get(Category, code)
    if category is None:
        abort(404)
    category = update_requirements(category, request.get_json()["requirements"], principal("admin"))
    return jsonify(code=category.code, requirements=category.requirements)


@operation(
    "api",
    "GET",
    "/admin/stores",
    "listStores",
    "All stores, optionally by status",
    tag="stores",
    auth="admin",
    parameters=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STORE_STATES.states)}}],
    responses={"200": returns("The stores", STORES)},
)
@admin_required
def list_stores():
    status = request.args.get("status") or None
    if status and status not in STORE_STATES.states:
        abort(400, "unknown status")
    return jsonify(items=[store_json(s, private=True) for s in store_lifecycle.list_stores(status)])


@operation(
    "api",
    "POST",
    "/admin/stores/<int:store_id>/suspend",
    "suspendStore",
    "Close a store's storefront now (with a reason the merchant sees)",
    tag="stores",
    auth="admin",
    body=obj({"reason": string(500)}, ["reason"]),
    responses={"200": returns("Suspended", STORE), "409": "Not open"},
)
@admin_required
def suspend_store(store_id):
    return jsonify(
        store_json(
            store_lifecycle.suspend(db.get_or_404(Store, store_id), principal("admin"), request.get_json()["reason"]),
            private=True,
        )
    )


@operation(
    "api",
    "POST",
    "/admin/stores/<int:store_id>/reopen",
    "reopenStore",
    "Reopen a suspended store that holds an approved qualification",
    tag="stores",
    auth="admin",
    responses={"200": returns("Open", STORE), "409": "Not suspended", "422": "No approved qualification"},
)
@admin_required
def reopen_store(store_id):
    return jsonify(store_json(store_lifecycle.reopen(db.get_or_404(Store, store_id), principal("admin")), private=True))


@operation(
    "api",
    "POST",
    "/admin/stores/<int:store_id>/close",
    "closeStore",
    "Close a store for good (with a reason the merchant sees): no orders, no jobs; its data are purged "
    "after the retention period (MALLOW_STORE_RETENTION_DAYS)",
    tag="stores",
    auth="admin",
    body=obj({"reason": string(500)}, ["reason"]),
    responses={"200": returns("Closed", STORE), "409": "Already closed"},
)
@admin_required
def close_store(store_id):
    return jsonify(
        store_json(
            store_lifecycle.close(db.get_or_404(Store, store_id), principal("admin"), request.get_json()["reason"]),
            private=True,
        )
    )
