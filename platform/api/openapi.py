"""The OpenAPI 3.1 document, built from the declared operations."""
from __future__ import annotations

from flask import jsonify

from mallow.api.registry import OPERATIONS, SCHEMAS, SECURITY, _BLUEPRINTS
from mallow.web.ids import ID_SCHEMA

STORE_PARAM = {"name": "store", "in": "path", "required": True, "schema": {"type": "string"},
               "description": "store slug (or use the store's own host {store}.<store domain>)"}


def document() -> dict:
    paths: dict = {}
    for op in OPERATIONS:
        item = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
                "security": SECURITY[op.auth], "responses": {}}
        params = list(op.parameters)
        if "{store}" in op.path:
            params.insert(0, STORE_PARAM)
        declared = {p["name"] for p in params}
        for name in _path_params(op.path):
            if name != "store" and name not in declared:
                params.append(_path_param(name))
        if params:
            item["parameters"] = params
        if op.body:
            item["requestBody"] = {"required": True, "content": {op.body_type: {"schema": op.body}}}
        for status, response in (op.responses or {"200": "OK"}).items():
            item["responses"][status] = response if isinstance(response, dict) else {"description": response}
        if op.auth:
            item["responses"].setdefault("401", {"description": "No valid token"})
            item["responses"].setdefault("403", {"description": "Not allowed for this token"})
        paths.setdefault(op.path, {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mallow API", "version": "1",
                 "description": "Platform API under /api, store APIs under /s/{store}/api. Bearer tokens only."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "description": "createToken with principal=admin"},
                "merchantToken": {"type": "http", "scheme": "bearer", "description": "createToken or signupMerchant"},
                "shopperToken": {"type": "http", "scheme": "bearer", "description": "loginCustomer: valid in one store"},
            },
            "responses": {"ValidationFailed": {"description": "Field errors; nothing was written", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ValidationFailed"}}}}},
            "schemas": {"ValidationFailed": {"type": "object", "required": ["error", "fields"], "properties": {
                "error": {"const": "validation_failed"}, "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}}}}}}} | SCHEMAS,
        },
    }


def _path_param(name: str) -> dict:
    """A path parameter the operation does not declare itself: ``…_id`` is a row id, in the
    range the app's ``int`` URL converter accepts (a larger id is a 404 like a missing row)."""
    schema = dict(ID_SCHEMA) if name.endswith("_id") else {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _path_params(path: str) -> list[str]:
    import re

    return re.findall(r"{([a-z_]+)}", path)


@_BLUEPRINTS["api"].get("/openapi.json")
def openapi_json():
    return jsonify(document())
