"""Declaring API operations once: route + OpenAPI + request validation."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps

from flask import Blueprint, abort, jsonify, make_response, request
from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from mallow.tenants.resolve import store_url_prefix

_BLUEPRINTS = {
    "api": Blueprint("api", __name__, url_prefix="/api"),
    "store_api": Blueprint("store_api", __name__, url_prefix=store_url_prefix("/api")),
    "console_api": Blueprint("console_api", __name__, url_prefix=store_url_prefix("/api/console")),
}
SECURITY = {"admin": [{"adminToken": []}], "merchant": [{"merchantToken": []}], "shopper": [{"shopperToken": []}],
            None: []}


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str  # OpenAPI path
    summary: str
    tag: str
    auth: str | None
    body: dict | None = None
    body_type: str = "application/json"
    parameters: list = field(default_factory=list)
    responses: dict = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def blueprints() -> list[Blueprint]:
    return list(_BLUEPRINTS.values())


def _openapi_path(blueprint: Blueprint, rule: str) -> str:
    path = (blueprint.url_prefix or "") + rule
    for converter in ("int:", "string:", ""):
        path = path.replace(f"<{converter}", "{")
    return path.replace(">", "}").replace("{store_slug}", "{store}")


def operation(area: str, method: str, rule: str, operation_id: str, summary: str, *, tag: str,
              auth: str | None, body: dict | None = None, body_type: str = "application/json",
              parameters: list | None = None, responses: dict | None = None):
    blueprint = _BLUEPRINTS[area]
    validator = Draft202012Validator(body) if body and body_type == "application/json" else None

    def register(view):
        OPERATIONS.append(Operation(operation_id, method.lower(), _openapi_path(blueprint, rule), summary, tag, auth,
                                    body, body_type, parameters or [], responses or {}))

        @wraps(view)
        def wrapped(*args, **kwargs):
            if validator is not None:
                payload = request.get_json(silent=True)
                if payload is None:
                    abort(make_response(jsonify(error="bad_request", message=_("Send a JSON object body.")), 400))
                problems = {}
                for error in validator.iter_errors(payload):
                    if error.validator == "required":
                        missing = [p for p in error.validator_value if p not in (error.instance or {})]
                        for name in missing:
                            problems.setdefault(name, {"code": "required", "message": f"{name} is required"})
                        continue
                    name = ".".join(str(p) for p in error.path) or "body"
                    problems.setdefault(name, {"code": error.validator, "message": error.message})
                if problems:
                    abort(make_response(jsonify(error="validation_failed", message=_("Some fields need attention."),
                                                fields=problems), 422))
            return view(*args, **kwargs)

        wrapped.operation_id = operation_id
        blueprint.add_url_rule(rule, endpoint=operation_id, view_func=wrapped, methods=[method.upper()])
        return wrapped

    return register


def obj(properties: dict, required: list[str] | None = None, additional: bool = False) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        schema["required"] = required
    return schema


def string(max_length: int = 200, **extra) -> dict:
    return {"type": "string", "maxLength": max_length, **extra}
