"""Calling the API by ``operationId``, the way a client generated from ``/api/openapi.json`` does.

The method and path come from the document, and every answer is held to it: its status must be
one the operation documents, and a JSON body must match the documented response schema. So a
test that goes through :class:`Api` also proves the document right::

    api = Api(app.test_client())
    cart = api("addToCart", store=shop.slug, token=token, json={"sku_id": 1, "quantity": 2}, expect=201)
"""

from __future__ import annotations

from jsonschema import Draft202012Validator


class Api:
    def __init__(self, client):
        self.client = client
        self.doc = client.get("/api/openapi.json").get_json()
        self.operations = {
            op["operationId"]: (path, method, op)
            for path, item in self.doc["paths"].items()
            for method, op in item.items()
        }
        self.called: list[str] = []

    def __call__(
        self,
        operation_id: str,
        *,
        token: str | None = None,
        expect: int | None = None,
        headers: dict | None = None,
        query: dict | None = None,
        **arguments,
    ):
        """Call ``operation_id``; path parameters by name (``store=…``, ``order_id=…``), the
        body as ``json=``, or ``data=`` (with ``content_type=``). Returns the response."""
        path, method, op = self.operations[operation_id]
        body = {name: arguments.pop(name) for name in ("json", "data", "content_type") if name in arguments}
        for name, value in arguments.items():
            assert "{" + name + "}" in path, f"{operation_id} has no path parameter {name}"
            path = path.replace("{" + name + "}", str(value))
        assert "{" not in path, f"{operation_id}: path parameters missing in {path}"
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.open(path, method=method.upper(), headers=headers, query_string=query, **body)
        self.called.append(operation_id)
        status = str(response.status_code)
        text = response.get_data(as_text=True)[:500]
        if expect is not None:
            assert response.status_code == expect, (operation_id, response.status_code, text)
        assert status in op["responses"], f"{operation_id} answered an undocumented {status}: {text}"
        self._check_body(operation_id, op["responses"][status], response)
        return response

    def _check_body(self, operation_id: str, documented: dict, response) -> None:
        if "$ref" in documented:  # e.g. #/components/responses/ValidationFailed
            documented = self._resolve(documented["$ref"])
        schema = documented.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return
        validator = Draft202012Validator(schema | {"components": self.doc["components"]})
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.get_json())
        ]
        assert not errors, f"{operation_id}: the answer does not match its documented schema: {errors[:5]}"

    def _resolve(self, ref: str) -> dict:
        node = self.doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node
