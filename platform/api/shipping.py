"""Console API for the store's shipping-fee templates."""

from __future__ import annotations

from flask import jsonify, request

from mallow.accounts.guards import staff_required
from mallow.api.registry import nullable, obj, operation, returns, schema, shape, string
from mallow.db import db
from mallow.shipping import service
from mallow.shipping.models import ShippingTemplate

FEN = {"type": "integer", "minimum": 0}
RULE = obj(
    {
        "regions": {"type": "array", "items": string(20), "description": 'province names, or ["*"]'},
        "first": {"type": "integer", "minimum": 1},
        "first_fee": FEN,
        "extra": {"type": "integer", "minimum": 1},
        "extra_fee": FEN,
    },
    ["first", "first_fee"],
)
TEMPLATE = obj(
    {
        "name": string(40),
        "mode": {"type": "string", "enum": ["pieces", "weight"]},
        "free_over": {"type": ["integer", "null"], "minimum": 0, "description": "fen: free at or above"},
        "rules": {"type": "array", "minItems": 1, "items": RULE},
        "is_default": {"type": "boolean", "description": "used by products that name no template"},
    },
    ["name", "rules"],
)
ERR = {"$ref": "#/components/responses/ValidationFailed"}
SHIPPING_TEMPLATE = schema(
    "ShippingTemplate",
    shape(
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "mode": {"type": "string", "enum": ["pieces", "weight"]},
            "free_over": nullable({"type": "integer", "description": "fen"}),
            "rules": {"type": "array", "items": {"type": "object"}},
            "is_default": {"type": "boolean"},
        }
    ),
)


@operation(
    "console_api",
    "GET",
    "/shipping-templates",
    "listShippingTemplates",
    "The store's shipping templates",
    tag="shipping",
    auth="merchant",
    responses={"200": returns("The templates", shape({"items": {"type": "array", "items": SHIPPING_TEMPLATE}}))},
)
@staff_required
def list_templates():
    return jsonify(items=[service.as_json(t) for t in service.all_templates()])


@operation(
    "console_api",
    "POST",
    "/shipping-templates",
    "createShippingTemplate",
    "Create a template: fees by region, by pieces or weight (grams), free above an amount",
    tag="shipping",
    auth="merchant",
    body=TEMPLATE,
    responses={"201": returns("Created", SHIPPING_TEMPLATE), "422": ERR},
)
@staff_required
def create_template():
    template = service.save(request.get_json())
    db.session.commit()
    return jsonify(service.as_json(template)), 201


@operation(
    "console_api",
    "PUT",
    "/shipping-templates/<int:template_id>",
    "updateShippingTemplate",
    "Replace a template",
    tag="shipping",
    auth="merchant",
    body=TEMPLATE,
    responses={"200": returns("Saved", SHIPPING_TEMPLATE), "422": ERR},
)
@staff_required
def update_template(template_id):
    template = service.save(request.get_json(), db.get_or_404(ShippingTemplate, template_id))
    db.session.commit()
    return jsonify(service.as_json(template))


@operation(
    "console_api",
    "DELETE",
    "/shipping-templates/<int:template_id>",
    "deleteShippingTemplate",
    "Delete a template no product uses",
    tag="shipping",
    auth="merchant",
    responses={"204": "Deleted", "422": ERR},
)
@staff_required
def delete_template(template_id):
    service.delete(db.get_or_404(ShippingTemplate, template_id))
    db.session.commit()
    return "", 204
