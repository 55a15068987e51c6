"""Declaring API operations once: route + OpenAPI + request validation.

:func:`operation` only *declares*: it records the operation on the view function and returns the
view unchanged, so importing an API module routes nothing. ``create_app`` hands the modules it
lists to :func:`mallow.api.init_app`, which installs their declarations into the app's own
:class:`ApiRegistry` (``app.extensions["mallow.api"]``, see :func:`api_of`): a blueprint per
area (:data:`AREAS`) made for that app, the operations routed on them, and the named schemas they publish. The
OpenAPI document (:mod:`mallow.api.openapi`) is built from that registry. A plugin's operations
(:func:`api_route`) live on the blueprints it mounts on the app it is loaded into.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import wraps

from flask import Blueprint, abort, current_app, jsonify, make_response, request
from flask_babel import gettext as _
from flask_limiter.util import get_qualified_name
from jsonschema import Draft202012Validator

from mallow.accounts import guards
from mallow.extensions import limiter
from mallow.tenants.resolve import store_url_prefix
from mallow.validation import schema_check
from mallow.web.ids import ID_SCHEMA

EXTENSION = "mallow.api"
#: the URL prefix of each area's blueprint (its name ends in ``api``: JSON errors, bearer tokens)
AREAS = {
    "api": "/api",
    "store_api": store_url_prefix("/api"),
    "console_api": store_url_prefix("/api/console"),
    "dev_api": "/dev/api",  # plugin developers (``mallow plugin publish``)
}
#: the areas inside a store (``{store}`` in the path: staff checks, a store that is not there)
STORE_AREAS = ("store_api", "console_api")
#: the attribute :func:`operation` records its declarations in (a view may carry several)
DECLARED = "mallow_api_operations"
#: an id in a request body (every id column is a 32-bit integer: larger is a 422, never a 500)
ID = dict(ID_SCHEMA)
NULLABLE_ID = {**ID_SCHEMA, "type": ["integer", "null"]}
SECURITY = {
    "admin": [{"adminToken": []}],
    "merchant": [{"merchantToken": []}],
    "shopper": [{"shopperToken": []}],
    "developer": [{"developerToken": []}],
    # either token: a shopper (their own rows) or the store's staff (the view tells them apart: 客服 chat)
    "shopper_or_merchant": [{"shopperToken": []}, {"merchantToken": []}],
    None: [],
}


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
    endpoint: str = ""  # the view's endpoint on its blueprint


@dataclass(frozen=True)
class Declared:
    """An operation as :func:`operation` declared it: routed on no app yet."""

    area: str
    method: str
    rule: str
    operation_id: str
    summary: str
    tag: str
    auth: str | None
    body: dict | None
    body_type: str
    parameters: list | None
    responses: dict | None
    validate: bool | str


class NamedSchema(dict):
    """A ``$ref`` to ``#/components/schemas/<name>`` that carries its definition (:func:`schema`)."""

    def __init__(self, name: str, definition: dict):
        super().__init__({"$ref": f"#/components/schemas/{name}"})
        self.name, self.definition = name, definition


class ApiRegistry:
    """One app's API: a blueprint per area, the operations routed on them, their named schemas."""

    def __init__(self):
        self.blueprints = {area: Blueprint(area, __name__, url_prefix=prefix) for area, prefix in AREAS.items()}
        self.operations: list[Operation] = []
        self.schemas: dict[str, dict] = {}

    def install(self, module: types.ModuleType) -> None:
        """Route the operations declared on ``module``'s own functions; publish its named schemas."""
        for value in vars(module).values():
            if isinstance(value, NamedSchema):
                self._publish(value)
            elif isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
                for declared in value.__dict__.get(DECLARED, ()):
                    self._route(value, declared)

    def _route(self, view, declared: Declared) -> None:
        blueprint = self.blueprints[declared.area]
        op = Operation(
            declared.operation_id,
            declared.method.lower(),
            _to_openapi(blueprint.url_prefix + declared.rule),
            declared.summary,
            declared.tag,
            declared.auth,
            declared.body,
            declared.body_type,
            declared.parameters or [],
            declared.responses or {},
            scoped=declared.area in STORE_AREAS,
            endpoint=declared.operation_id,
        )
        wrapped = _wrap(view, op, _guard(declared.area, declared.auth), declared.validate)
        blueprint.add_url_rule(
            declared.rule, endpoint=op.endpoint, view_func=wrapped, methods=[declared.method.upper()]
        )
        self.operations.append(op)
        for named in _named_schemas([op.body, op.parameters, op.responses]):
            self._publish(named)

    def _publish(self, named: NamedSchema) -> None:
        if self.schemas.get(named.name, named.definition) != named.definition:
            raise ValueError(f"schema {named.name!r} is declared twice")
        if named.name not in self.schemas:
            self.schemas[named.name] = named.definition
            for inner in _named_schemas(named.definition):
                self._publish(inner)

    def plugin_operations(self, app) -> list[tuple[str, str, Operation]]:
        """``(plugin, OpenAPI path, operation)`` of every plugin API operation mounted on ``app``."""
        found = []
        for mounted, (plugin, _area, _original) in app.extensions.get("mallow.plugin_routes", {}).items():
            for op in getattr(app.blueprints.get(mounted), "mallow_operations", ()):
                for rule in app.url_map.iter_rules(f"{mounted}.{op.endpoint}"):
                    if op.method.upper() in (rule.methods or ()):
                        found.append((plugin, _to_openapi(rule.rule), op))
                        break
        return found


def _named_schemas(value) -> Iterable[NamedSchema]:
    if isinstance(value, NamedSchema):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _named_schemas(inner)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            yield from _named_schemas(inner)


def api_of(app=None) -> ApiRegistry:
    """The API registry of ``app`` (default: the current app)."""
    return (app if app is not None else current_app).extensions[EXTENSION]


_RULE_PART = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>")


def _to_openapi(rule: str) -> str:
    return _RULE_PART.sub(r"{\1}", rule).replace("{store_slug}", "{store}")


def operation(
    area: str,
    method: str,
    rule: str,
    operation_id: str,
    summary: str,
    *,
    tag: str,
    auth: str | None,
    body: dict | None = None,
    body_type: str = "application/json",
    parameters: list | None = None,
    responses: dict | None = None,
    validate: bool | str = True,
):
    """Declare an operation on its view (an app routes it when it installs the view's module,
    :meth:`ApiRegistry.install`). A JSON ``body`` validates requests (422 with field errors)
    unless ``validate=False``: then it only documents a body the view checks itself (a signed
    notification must be verified over its exact bytes and answered in the provider's format);
    ``validate="object"``: only that the body is a JSON object (else 400), the view checks its fields.
    ``responses`` maps a status to a description, or to :func:`returns` (a body schema); the
    statuses the registry itself answers are added by :func:`standard_responses`."""
    if area not in AREAS:
        raise ValueError(f"unknown API area {area!r}")
    declared = Declared(
        area, method, rule, operation_id, summary, tag, auth, body, body_type, parameters, responses, validate
    )

    def declare(view):
        view.__dict__.setdefault(DECLARED, []).append(declared)
        return view

    return declare


def api_route(
    blueprint: Blueprint,
    method: str,
    rule: str,
    operation_id: str,
    summary: str,
    *,
    auth: str | None,
    body: dict | None = None,
    body_type: str = "application/json",
    parameters: list | None = None,
    responses: dict | None = None,
    validate: bool | str = True,
    endpoint: str | None = None,
    authorize: bool = True,
):
    """:func:`operation` for a plugin's API blueprint (``store_api`` or ``console_api`` area; a
    fresh blueprint per app): the same auth-before-validation, body validation and standard
    responses, and the operation is in the OpenAPI document of every app that mounts the
    blueprint, under the plugin's path and tagged with the plugin's name. ``auth="merchant"``
    means staff of the store; ``authorize=False``: the view checks the token itself, when it
    decides (the operation still documents it). Returns the wrapped view."""

    def register(view):
        op = Operation(
            operation_id,
            method.lower(),
            _to_openapi(rule),
            summary,
            "",
            auth,
            body,
            body_type,
            parameters or [],
            responses or {},
            scoped=True,
            endpoint=endpoint or operation_id,
        )
        blueprint.__dict__.setdefault("mallow_operations", []).append(op)
        wrapped = _wrap(view, op, _guard("console_api", auth if authorize else None), validate)
        blueprint.add_url_rule(rule, endpoint=op.endpoint, view_func=wrapped, methods=[method.upper()])
        return wrapped

    return register


def _wrap(view, op: Operation, authorize, validate: bool | str):
    """The view behind the registry's own checks: the declared ``auth`` first (a caller who may
    not use the operation gets 401/403, logged, never field errors), then a JSON body (400 when it
    is not JSON, 422 with field errors when it does not match ``body``)."""
    json_body = op.body and op.body_type == "application/json" and validate
    schema = op.body if validate is True else {"type": "object"}
    validator = Draft202012Validator(schema) if json_body else None
    valid = schema_check(schema) if json_body else bool  # a valid body costs no jsonschema walk
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
            for error in () if valid(payload) else validator.iter_errors(payload):
                if error.validator == "required":
                    missing = [p for p in error.validator_value if p not in (error.instance or {})]
                    for name in missing:
                        problems.setdefault(name, {"code": "required", "message": f"{name} is required"})
                    continue
                name = ".".join(str(p) for p in error.path) or "body"
                problems.setdefault(name, {"code": error.validator, "message": error.message})
            if problems:
                abort(
                    make_response(
                        jsonify(error="validation_failed", message=_("Some fields need attention."), fields=problems),
                        422,
                    )
                )
        return view(*args, **kwargs)

    wrapped.operation_id = op.operation_id
    return wrapped


#: the shared error answers, published under ``components/responses`` (body: ``components/schemas/Error``)
ERROR_RESPONSES = {
    "400": (
        "BadRequest",
        "Not a request this operation understands (a body that is not JSON, a bad query parameter, a malformed upload)",
    ),
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
    again after validation, does the same and its finer checks, such as owner-only). An operation
    that takes either of two tokens (``shopper_or_merchant``) is checked by its view alone."""
    decorator = {
        "admin": guards.admin_required,
        "shopper": guards.shopper_required,
        "developer": guards.developer_required,
        "merchant": guards.staff_required if area == "console_api" else guards.merchant_required,
    }.get(auth)
    return decorator(lambda: None) if decorator else (lambda: None)


def obj(properties: dict, required: list[str] | None = None, additional: bool = False) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        schema["required"] = required
    return schema


def string(max_length: int = 200, **extra) -> dict:
    return {"type": "string", "maxLength": max_length, **extra}


def schema(name: str, definition: dict) -> NamedSchema:
    """A ``$ref`` to ``#/components/schemas/<name>``: an app publishes ``definition`` under that
    name when one of its operations (or a module it installs) uses it."""
    return NamedSchema(name, definition)


def returns(description: str, body_schema: dict) -> dict:
    """A response with a JSON body described by ``body_schema`` (often a :func:`schema` ref)."""
    return {"description": description, "content": {"application/json": {"schema": body_schema}}}


def shape(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    """A response object: every property is always there except the ``optional`` ones; more may
    be added later (clients ignore what they do not know)."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


def nullable(schema_: dict) -> dict:
    return {"anyOf": [schema_, {"type": "null"}]}
