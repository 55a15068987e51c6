"""The OpenAPI document describes every API route, each with an operationId."""
from __future__ import annotations

import re

REQUIRED = {"signupMerchant", "createToken", "submitQualification", "listQualifications",
            "approveQualification", "rejectQualification", "getStore", "registerCustomer", "loginCustomer"}


def test_every_operation_has_a_unique_operation_id(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert REQUIRED <= set(ids)


def test_every_api_route_is_documented(app, client):
    doc = client.get("/api/openapi.json").get_json()
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.split(".")[0].endswith("api") or rule.endpoint == "api.openapi_json":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule).replace("{store_slug}", "{store}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)


def test_documented_security_and_parameters(client):
    doc = client.get("/api/openapi.json").get_json()
    approve = doc["paths"]["/api/admin/qualifications/{qualification_id}/approve"]["post"]
    assert approve["security"] == [{"adminToken": []}]
    assert {p["name"] for p in approve["parameters"]} == {"qualification_id"}
    submit = doc["paths"]["/s/{store}/api/console/qualifications"]["post"]
    assert "multipart/form-data" in submit["requestBody"]["content"]
    assert submit["parameters"][0]["name"] == "store"
    schemes = doc["components"]["securitySchemes"]
    for item in doc["paths"].values():
        for op in item.values():
            for requirement in op["security"]:
                assert set(requirement) <= set(schemes)


def test_api_errors_are_json(client):
    assert client.get("/api/no-such-thing").status_code == 404
    response = client.get("/s/no-such-store/api/store")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    response = client.put("/api/tokens", json={})
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
