"""The OpenAPI 3.1 document, built from the app's API registry (:func:`mallow.api.registry.api_of`)."""

from __future__ import annotations

from flask import current_app, jsonify

from mallow.api.registry import ERROR_RESPONSES, SECURITY, Operation, api_of, standard_responses
from mallow.web.ids import ID_SCHEMA

STORE_PARAM = {
    "name": "store",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "store slug (or use the store's own host {store}.<store domain>)",
}


def document() -> dict:
    """Every core operation of this app, and every operation of the plugins loaded on it (tagged
    with the plugin's name): each with every status it can answer and a schema for every JSON body."""
    registry = api_of(current_app)
    paths: dict = {}
    for op in registry.operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op, op.path, op.tag)
    for plugin, path, op in registry.plugin_operations(current_app):
        paths.setdefault(path, {})[op.method] = _operation(op, path, plugin)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mallow API",
            "version": "1",
            "description": "Platform API under /api, store APIs under /s/{store}/api (plugins' under "
            "/s/{store}/api/x/{plugin} and /s/{store}/api/console/x/{plugin}), the plugin developers' "
            "API under /dev/api. Bearer tokens only. Every error is JSON: {error, message, fields?}.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "createToken with principal=admin"},
                "merchantToken": {"type": "http", "scheme": "bearer", "description": "createToken or signupMerchant"},
                "shopperToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "loginCustomer: valid in one store",
                },
                "developerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "createDeveloperToken (a plugin developer's account, dev_…)",
                },
            },
            "responses": {
                name: _error_response(description, status) for status, (name, description) in ERROR_RESPONSES.items()
            },
            "schemas": {"Error": ERROR, "ValidationFailed": VALIDATION_FAILED} | registry.schemas,
        },
    }


#: every error answer of the API (``platform/web`` and the registry): a code, a message, and for
#: field errors ``fields`` (name → code and message); some add more (``current``, ``problems``…)
ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "a stable code: not_found, validation_failed, forbidden…"},
        "message": {"type": "string", "description": "for people, in the request's language"},
        "fields": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
VALIDATION_FAILED = {
    "allOf": [{"$ref": "#/components/schemas/Error"}],
    "required": ["error", "message", "fields"],
    "properties": {"error": {"const": "validation_failed"}},
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _error_response(description: str, status: str) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}
    if status == "401":
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}}
    return response


def _operation(op: Operation, path: str, tag: str) -> dict:
    item = {"operationId": op.operation_id, "summary": op.summary, "tags": [tag], "security": SECURITY[op.auth]}
    params = list(op.parameters)
    if "{store}" in path:
        params.insert(0, STORE_PARAM)
    declared = {p["name"] for p in params}
    for name in _path_params(path):
        if name != "store" and name not in declared:
            params.append(_path_param(name))
    if params:
        item["parameters"] = params
    if op.body:
        item["requestBody"] = {"required": True, "content": {op.body_type: {"schema": op.body}}}
    responses = standard_responses(op)
    if not any(status.startswith("2") for status in op.responses):
        responses["200"] = {"description": "OK"}
    for status, response in op.responses.items():
        if not isinstance(response, dict):  # a description: an error answer has the shared error body
            response = {"description": response}
            if status >= "400":
                response["content"] = {"application/json": {"schema": _ERROR_REF}}
        responses[status] = response
    item["responses"] = dict(sorted(responses.items()))
    return item


def _path_param(name: str) -> dict:
    """A path parameter the operation does not declare itself: ``…_id`` is a row id, in the
    range the app's ``int`` URL converter accepts (a larger id is a 404 like a missing row)."""
    schema = dict(ID_SCHEMA) if name.endswith("_id") else {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _path_params(path: str) -> list[str]:
    import re

    return re.findall(r"{([a-z_]+)}", path)


def openapi_json():
    """``GET /api/openapi.json`` (routed by :func:`mallow.api.init_app`)."""
    return jsonify(document())
