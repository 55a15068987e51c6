"""Declaring API operations once: route + OpenAPI + request validation."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import wraps

from flask import Blueprint, abort, jsonify, make_response, request
from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from mallow.tenants.resolve import store_url_prefix
from mallow.web.ids import ID_SCHEMA

_BLUEPRINTS = {
    "api": Blueprint("api", __name__, url_prefix="/api"),
    "store_api": Blueprint("store_api", __name__, url_prefix=store_url_prefix("/api")),
    "console_api": Blueprint("console_api", __name__, url_prefix=store_url_prefix("/api/console")),
}
#: an id in a request body (every id column is a 32-bit integer: larger is a 422, never a 500)
ID = dict(ID_SCHEMA)
NULLABLE_ID = {**ID_SCHEMA, "type": ["integer", "null"]}
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
#: named schemas of response bodies, published under ``components/schemas`` (see :func:`schema`)
SCHEMAS: dict[str, dict] = {}


def blueprints() -> list[Blueprint]:
    return list(_BLUEPRINTS.values())


_RULE_PART = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>")


def _openapi_path(blueprint: Blueprint, rule: str) -> str:
    """``/s/<store_slug>/api/products/<int:product_id>`` → ``/s/{store}/api/products/{product_id}``
    (converter arguments too: ``<int(min=0):index>`` → ``{index}``)."""
    path = _RULE_PART.sub(r"{\1}", (blueprint.url_prefix or "") + rule)
    return path.replace("{store_slug}", "{store}")


def operation(area: str, method: str, rule: str, operation_id: str, summary: str, *, tag: str,
              auth: str | None, body: dict | None = None, body_type: str = "application/json",
              parameters: list | None = None, responses: dict | None = None, validate: bool = True):
    """Declare and route an operation. A JSON ``body`` validates requests (422 with field errors)
    unless ``validate=False``: then it only documents a body the view checks itself (a signed
    notification must be verified over its exact bytes and answered in the provider's format).
    ``responses`` maps a status to a description, or to :func:`returns` (a body schema)."""
    blueprint = _BLUEPRINTS[area]
    validator = Draft202012Validator(body) if body and body_type == "application/json" and validate else None

    def register(view):
        OPERATIONS.append(Operation(operation_id, method.lower(), _openapi_path(blueprint, rule), summary, tag, auth,
                                    body, body_type, parameters or [], responses or {}))
        authorize = _guard(area, auth)

        @wraps(view)
        def wrapped(*args, **kwargs):
            if validator is not None:
                authorize()  # first: a caller who may not use the operation gets 401/403 (logged), not field errors
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


def _guard(area: str, auth: str | None):
    """The check of the operation's declared ``auth`` (the view's own guard decorator, which runs
    again after validation, does the same and its finer checks, such as owner-only)."""
    from mallow.accounts import guards

    decorator = {"admin": guards.admin_required, "shopper": guards.shopper_required,
                 "merchant": guards.staff_required if area == "console_api" else guards.merchant_required}.get(auth)
    return decorator(lambda: None) if decorator else (lambda: None)


def obj(properties: dict, required: list[str] | None = None, additional: bool = False) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        schema["required"] = required
    return schema


def string(max_length: int = 200, **extra) -> dict:
    return {"type": "string", "maxLength": max_length, **extra}


def schema(name: str, definition: dict) -> dict:
    """Publish ``definition`` as ``#/components/schemas/<name>``; returns a ``$ref`` to it."""
    if SCHEMAS.get(name, definition) != definition:
        raise ValueError(f"schema {name!r} is declared twice")
    SCHEMAS[name] = definition
    return {"$ref": f"#/components/schemas/{name}"}


def returns(description: str, body_schema: dict) -> dict:
    """A response with a JSON body described by ``body_schema`` (often a :func:`schema` ref)."""
    return {"description": description, "content": {"application/json": {"schema": body_schema}}}


def shape(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    """A response object: every property is always there except the ``optional`` ones; more may
    be added later (clients ignore what they do not know)."""
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


def nullable(schema_: dict) -> dict:
    return {"anyOf": [schema_, {"type": "null"}]}
