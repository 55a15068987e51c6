"""The JSON shapes of the distribution API (amounts in integer fen, rates in basis points) and what
its two blueprints share: a blueprint that answers a distribution problem as JSON, the request's JSON
object."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from mallow.sdk import ValidationFailed, nullable, obj, shape
from mallow_distribution.distributors import DistributionProblem
from mallow_distribution.i18n import _
from mallow_distribution.web import BLUEPRINTS


def json_body() -> dict:
    """The request's JSON object (422 for anything else)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed({"body": ("invalid", _("Send a JSON object."))})
    return data


def _problem(problem: DistributionProblem):
    return jsonify(error=problem.code, message=str(problem.message)), problem.status


def api_blueprint() -> Blueprint:
    """A blueprint for the API's operations: a distribution problem answers JSON with its status."""
    bp = Blueprint(BLUEPRINTS["store_api"], __name__)
    bp.register_error_handler(DistributionProblem, _problem)
    return bp


# --- the shapes (in the OpenAPI document under the plugin's paths, tagged distribution) ---------

INT, TEXT, BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
FEN = {"type": "integer", "description": "fen"}
WHEN = nullable({"type": "string", "format": "date-time"})
BALANCES = shape({name: FEN for name in ("pending", "frozen", "withdrawable", "withdrawing", "withdrawn")})
DISTRIBUTOR = shape(
    {
        "id": INT,
        "status": TEXT,
        "code": TEXT,
        "grade_id": nullable(INT),
        "reason": nullable(TEXT),
        "applied_at": WHEN,
        "link": {"type": "string", "description": "approved: the referral link"},
        "balances": BALANCES,
        "customer_id": INT,
    },
    optional=("link", "balances", "customer_id"),
)
COMMISSION = shape(
    {
        "id": INT,
        "order_number": TEXT,
        "level": INT,
        "base": FEN,
        "rate_bp": {**INT, "description": "basis points"},
        "amount": FEN,
        "reversed_amount": FEN,
        "net": FEN,
        "status": TEXT,
        "created_at": WHEN,
        "release_at": WHEN,
        "order_id": INT,
        "distributor_id": INT,
        "buyer_id": INT,
        "product_id": nullable(INT),
    },
    optional=("order_id", "distributor_id", "buyer_id", "product_id"),
)
WITHDRAWAL = shape(
    {
        "id": INT,
        "distributor_id": INT,
        "amount": FEN,
        "status": TEXT,
        "reason": nullable(TEXT),
        "payout_method": nullable(TEXT),
        "payout_reference": nullable(TEXT),
        "requested_at": WHEN,
        "decided_at": WHEN,
    }
)
SETTINGS = {
    "type": "object",
    "description": "levels, level1_rate_bp, level2_rate_bp, binding_mode, binding_days, "
    "min_withdrawal (fen), auto_approve, include_flashsale, include_groupbuy",
}
FIELD_ERRORS = {"$ref": "#/components/responses/ValidationFailed"}
NOT_DISTRIBUTOR = "Not an approved distributor (not_distributor)"


def list_of(name: str, item: dict, extra: dict | None = None) -> dict:
    """An answer holding a list of ``item`` under ``name`` (and ``extra`` fields)."""
    return shape({name: {"type": "array", "items": item}} | (extra or {}))


def body_of(properties: dict, required: list[str] | None = None) -> dict:
    """A request body with these properties (others allowed)."""
    return obj(properties, required, additional=True)
