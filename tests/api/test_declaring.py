"""Declaring an operation routes nothing: an app's API holds the operations of the modules
``create_app`` installs, on blueprints made for that app."""

from __future__ import annotations

import importlib.util

from flask import Flask

from mallow.api.registry import ApiRegistry, api_of

MODULE = """
from flask import jsonify

from mallow.api.registry import operation, returns, schema, shape

ECHO = schema("DeclaredEcho", shape({"ok": {"type": "boolean"}}))


@operation("api", "GET", "/declared-only", "declaredOnly", "Declared, never installed", tag="tests", auth=None,
           responses={"200": returns("OK", ECHO)})
def declared_only():
    return jsonify(ok=True)
"""


def _import(tmp_path):
    path = tmp_path / "declares_an_operation.py"
    path.write_text(MODULE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("declares_an_operation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_importing_a_module_that_declares_an_operation_changes_no_app(app, client, tmp_path):
    before = len(api_of(app).operations)
    module = _import(tmp_path)
    assert len(api_of(app).operations) == before
    assert client.get("/api/declared-only").status_code == 404
    doc = client.get("/api/openapi.json").get_json()
    assert "/api/declared-only" not in doc["paths"] and "DeclaredEcho" not in doc["components"]["schemas"]
    # installed into a registry, it is routed there with its schema
    registry = ApiRegistry()
    registry.install(module)
    assert [op.operation_id for op in registry.operations] == ["declaredOnly"]
    assert registry.schemas == {"DeclaredEcho": module.ECHO.definition}
    other = Flask(__name__)
    other.register_blueprint(registry.blueprints["api"])
    assert other.test_client().get("/api/declared-only").get_json() == {"ok": True}
