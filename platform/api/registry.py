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
    #: how the registry answers before the view runs (see :func:`standard_responses`)
    scoped: bool = False  # in a store (``{store}`` in the path): staff checks, a store that is not there
    validated: bool = False  # the JSON body is checked against ``body``
    limited: bool = False  # Flask-Limiter limits the view (``login_limits``)


OPERATIONS: list[Operation] = []
#: named schemas of response bodies, published under ``components/schemas`` (see :func:`schema`)
SCHEMAS: dict[str, dict] = {}


def blueprints() -> list[Blueprint]:
    return list(_BLUEPRINTS.values())


_RULE_PART = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>")


def _openapi_path(blueprint: Blueprint, rule: str) -> str:
    """``/s/<store_slug>/api/products/<int:product_id>`` → ``/s/{store}/api/products/{product_id}``
    (converter arguments too: ``<int(min=0):index>`` → ``{index}``)."""
    return _to_openapi((blueprint.url_prefix or "") + rule)


def _to_openapi(rule: str) -> str:
    return _RULE_PART.sub(r"{\1}", rule).replace("{store_slug}", "{store}")


def operation(area: str, method: str, rule: str, operation_id: str, summary: str, *, tag: str,
              auth: str | None, body: dict | None = None, body_type: str = "application/json",
              parameters: list | None = None, responses: dict | None = None, validate: bool | str = True):
    """Declare and route an operation. A JSON ``body`` validates requests (422 with field errors)
    unless ``validate=False``: then it only documents a body the view checks itself (a signed
    notification must be verified over its exact bytes and answered in the provider's format);
    ``validate="object"``: only that the body is a JSON object (else 400), the view checks its fields.
    ``responses`` maps a status to a description, or to :func:`returns` (a body schema); the
    statuses the registry itself answers are added by :func:`standard_responses`."""
    blueprint = _BLUEPRINTS[area]

    def register(view):
        op = Operation(operation_id, method.lower(), _openapi_path(blueprint, rule), summary, tag, auth, body,
                       body_type, parameters or [], responses or {}, scoped=area != "api")
        OPERATIONS.append(op)
        wrapped = _wrap(view, op, _guard(area, auth), validate)
        blueprint.add_url_rule(rule, endpoint=operation_id, view_func=wrapped, methods=[method.upper()])
        return wrapped

    return register


def api_route(blueprint: Blueprint, method: str, rule: str, operation_id: str, summary: str, *, auth: str | None,
              body: dict | None = None, body_type: str = "application/json", parameters: list | None = None,
              responses: dict | None = None, validate: bool | str = True, endpoint: str | None = None,
              authorize: bool = True):
    """:func:`operation` for a plugin's API blueprint (``store_api`` or ``console_api`` area; a
    fresh blueprint per app): the same auth-before-validation, body validation and standard
    responses, and the operation is in the OpenAPI document of every app that mounts the
    blueprint, under the plugin's path and tagged with the plugin's name. ``auth="merchant"``
    means staff of the store; ``authorize=False``: the view checks the token itself, when it
    decides (the operation still documents it). Returns the wrapped view."""

    def register(view):
        op = Operation(operation_id, method.lower(), _to_openapi(rule), summary, "", auth, body, body_type,
                       parameters or [], responses or {}, scoped=True)
        blueprint.__dict__.setdefault("mallow_operations", []).append(op)
        wrapped = _wrap(view, op, _guard("console_api", auth if authorize else None), validate)
        blueprint.add_url_rule(rule, endpoint=endpoint or operation_id, view_func=wrapped, methods=[method.upper()])
        return wrapped

    return register


def plugin_operations(app) -> list[tuple[str, str, Operation]]:
    """``(plugin, path prefix, operation)`` of every plugin API operation mounted on ``app``."""
    from mallow.plugins.routes import AREAS

    found = []
    for mounted, (plugin, area, _original) in app.extensions.get("mallow.plugin_routes", {}).items():
        for op in getattr(app.blueprints.get(mounted), "mallow_operations", ()):
            found.append((plugin, _to_openapi(AREAS[area].format(name=plugin)), op))
    return found


def _wrap(view, op: Operation, authorize, validate: bool | str):
    """The view behind the registry's own checks: the declared ``auth`` first (a caller who may
    not use the operation gets 401/403, logged, never field errors), then a JSON body (400 when it
    is not JSON, 422 with field errors when it does not match ``body``)."""
    from flask_limiter.util import get_qualified_name

    from mallow.extensions import limiter

    json_body = op.body and op.body_type == "application/json" and validate
    validator = Draft202012Validator(op.body if validate is True else {"type": "object"}) if json_body else None
    op.validated = validate is True and validator is not None
    op.limited = get_qualified_name(view) in getattr(limiter, "_marked_for_limiting", ())

    @wraps(view)
    def wrapped(*args, **kwargs):
        authorize()
        if validator is not None:
            payload = request.get_json(silent=True)
            if payload is None or (validate == "object" and not isinstance(payload, dict)):
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

    wrapped.operation_id = op.operation_id
    return wrapped


#: the shared error answers, published under ``components/responses`` (body: ``components/schemas/Error``)
ERROR_RESPONSES = {
    "400": ("BadRequest", "Not a request this operation understands (a body that is not JSON, a bad query "
                          "parameter, a malformed upload)"),
    "401": ("Unauthorized", "No valid bearer token for this operation"),
    "403": ("Forbidden", "The token may not do this here (not staff of this store, owner only…); logged"),
    "404": ("NotFound", "No such store, or no such thing in it (or the plugin is not on in this store)"),
    "413": ("TooLarge", "The body is larger than the server accepts"),
    "422": ("ValidationFailed", "Field errors; nothing was written"),
    "429": ("TooManyRequests", "Too many attempts: wait and try again"),
}


def standard_responses(op: Operation) -> dict:
    """The statuses every operation can answer by construction, as references to the shared
    error responses: 401 (and, in a store, 403 for staff) from its ``auth``; 404 when its path has
    parameters (a store that is not there, an id that is not a row); 400 and 413 when it takes a
    body (and 400 when it has query parameters); 422 when the registry validates its JSON body;
    429 when it is rate-limited."""
    statuses = []
    if op.auth:
        statuses.append("401")
        if op.auth == "merchant" and op.scoped:
            statuses.append("403")
    if "{" in op.path or op.scoped:
        statuses.append("404")
    if op.body or any(p.get("in") == "query" for p in op.parameters):
        statuses.append("400")
    if op.body:
        statuses.append("413")
    if op.validated:
        statuses.append("422")
    if op.limited:
        statuses.append("429")
    return {status: {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"} for status in sorted(statuses)}


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
