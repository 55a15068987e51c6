"""The OpenAPI document describes every API route, each with an operationId."""

from __future__ import annotations

import re

REQUIRED = {
    "signupMerchant",
    "createToken",
    "submitQualification",
    "listQualifications",
    "approveQualification",
    "rejectQualification",
    "getStore",
    "registerCustomer",
    "loginCustomer",
}


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
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule.rule).replace("{store_slug}", "{store}")
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


COMMERCE = (
    "listProducts",
    "getProduct",
    "registerCustomer",
    "loginCustomer",
    "addToCart",
    "getCart",
    "createOrder",
    "payOrder",
    "paymentNotify",
    "getOrder",
    "listOrders",
    "requestAfterSale",
    "createProduct",
    "updateProduct",
    "createCategory",
    "shipOrder",
    "decideAfterSale",
)


def _json_schema(content: dict | None) -> dict | None:
    for media in (content or {}).values():
        if media.get("schema"):
            return media["schema"]
    return None


def test_the_commerce_operations_have_request_and_response_schemas(client):
    from jsonschema import Draft202012Validator

    doc = client.get("/api/openapi.json").get_json()
    operations = {
        op["operationId"]: (path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
    }
    components = doc["components"]
    for schema in components["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for operation_id in COMMERCE:
        assert operation_id in operations, operation_id
        path, method, op = operations[operation_id]
        # the request: every path parameter typed, and a body schema for what sends one
        params = {p["name"]: p for p in op.get("parameters", [])}
        for name in re.findall(r"{([a-z_]+)}", path):
            assert params[name]["schema"].get("type") or params[name]["schema"].get("enum"), (operation_id, name)
        if method in ("post", "put", "patch"):
            body = _json_schema(op.get("requestBody", {}).get("content"))
            assert body and body.get("type") == "object" and body.get("properties"), operation_id
        # the answer: the success status has a JSON schema whose references resolve (204: no body)
        success = [status for status in op["responses"] if status.startswith("2")]
        assert success, operation_id
        for status in success:
            schema = _json_schema(op["responses"][status].get("content"))
            if status == "204":
                assert schema is None, operation_id
                continue
            assert schema is not None, (operation_id, status)
            ref = schema.get("$ref", "")
            assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in components["schemas"], (
                operation_id,
                ref,
            )
    # money in the documented answers is integer fen
    order = components["schemas"]["Order"]["properties"]
    assert all(order[key]["type"] == "integer" for key in ("items_total", "total", "refunded_total"))
    assert components["schemas"]["PaymentStart"]["properties"]["payment"]["anyOf"][0]["$ref"].endswith("/Payment")
    assert "FAIL" in str(operations["paymentNotify"][2]["responses"]["401"])


def test_the_developer_api_is_documented_with_its_own_token(client):
    """``mallow plugin publish``'s API is declared like the others: developer bearer tokens, the
    wheel as a multipart upload, the login rate limit, JSON errors even where no route matches."""
    doc = client.get("/api/openapi.json").get_json()
    operations = {
        op["operationId"]: (path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
    }
    assert "developerToken" in doc["components"]["securitySchemes"]
    for operation_id, path, method in (
        ("listDeveloperReleases", "/dev/api/releases", "get"),
        ("uploadPluginRelease", "/dev/api/releases", "post"),
        ("getDeveloperRelease", "/dev/api/releases/{release_id}", "get"),
    ):
        assert operations[operation_id][:2] == (path, method)
        assert operations[operation_id][2]["security"] == [{"developerToken": []}]
        assert "401" in operations[operation_id][2]["responses"]
    token = operations["createDeveloperToken"][2]
    assert token["security"] == [] and {"422", "429"} <= set(token["responses"])
    upload = operations["uploadPluginRelease"][2]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["required"] == ["file"] and upload["properties"]["file"]["format"] == "binary"
    missing = client.get("/dev/api/releases/not-a-number")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert client.get("/dev/api/releases").status_code == 401
