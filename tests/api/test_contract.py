"""The API contract: schemathesis against ``/api/openapi.json``, in process, on both backends.

Every core and plugin operation is called with generated requests (schemathesis' examples,
coverage and fuzzing phases, a fixed seed, derandomised) as an admin, a merchant and a shopper of
one throwaway open store with the three bundled plugins on, and as a plugin developer with one
uploaded release (and real ids in part of the requests, so success answers are checked too). The run fails on any 5xx (an exception out of the app), any
status the document does not declare, any body that does not match its schema, a JSON body the
document has no schema for, and a 405 without ``Allow``. Destructive operations are welcome: the
store is made for the run. Its counts go to the terminal summary (``tests/api/conftest.py``).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, UTC

import pytest
import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.engine import events, from_schema

from mallow.testing import (
    PASSWORD,
    backend_params,
    bearer,
    dispose_app,
    enable_plugin,
    make_admin,
    make_product,
    make_shopper,
    make_store,
    merchant_token,
    plugin_app,
)

PLUGINS = ["groupbuy", "flashsale", "distribution"]
SEED = 20240917
MAX_EXAMPLES = 8
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "json_body_has_a_schema",
)


@pytest.fixture(scope="module", params=backend_params())
def contract_app(request, tmp_path_factory):
    app = plugin_app(tmp_path_factory, request.param, PLUGINS)
    yield app
    dispose_app(app)


@schemathesis.check
def json_body_has_a_schema(ctx, response, case):
    """A JSON answer must have a documented schema for its status (``response_schema_conformance``
    passes a body the document says nothing about)."""
    item = case.operation.schema.raw_schema["paths"].get(case.operation.path, {})
    operation = item.get(case.method.lower())
    content_type = response.headers.get("content-type", [""])[0]
    if operation is None or not content_type.startswith("application/json") or not response.content:
        return None
    documented = operation["responses"].get(str(response.status_code), {})
    if "$ref" in documented:
        documented = case.operation.schema.raw_schema["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    if not documented.get("content", {}).get("application/json", {}).get("schema"):
        raise Failure(
            operation=case.operation.label,
            title="JSON body without a documented schema",
            message=f"{response.status_code} answered JSON, and the document has no schema for it",
        )
    return None


def _admin_token(client, app) -> str:
    _id, email = make_admin(app)
    response = client.post("/api/tokens", json={"email": email, "password": PASSWORD, "principal": "admin"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def _developer(client, app) -> tuple[str, int]:
    """A plugin developer's token (``dev_…``, through createDeveloperToken) and the id of a
    release they uploaded (a real wheel, so getDeveloperRelease answers 200 too)."""
    from mallow.developers.accounts import signup_developer
    from tests.developers.conftest import upload, wheel_bytes

    email = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    with app.app_context():
        signup_developer({"email": email, "password": PASSWORD, "name": "合同测试开发者"})
    token = _ok(client.post("/dev/api/tokens", json={"email": email, "password": PASSWORD}))["token"]
    name = f"contract{uuid.uuid4().hex[:8]}"
    release = _ok(upload(client, token, *wheel_bytes(name, "1.0.0", "from mallow.sdk import hookimpl\n")))
    return token, release["release"]["id"]


def _ok(response, *statuses: int) -> dict:
    assert response.status_code in (statuses or (200, 201)), (response.status_code, response.get_data(as_text=True))
    return response.get_json()


def _seed(app) -> dict:
    """One open store with the three plugins on and a little of everything (products, an unpaid
    and a paid order, a group-buy campaign, a flash sale, the shopper as a distributor), and a
    second store for the admin's store operations (a suspended store would answer 503 from then
    on). Returns the tokens, the fixed parameters and the real ids each path parameter may take."""
    from mallow.testing.payments import pay_with_sandbox

    client = app.test_client()
    shop, target = make_store(app), make_store(app)
    for name in PLUGINS:
        enable_plugin(app, shop, name)
    admin = _admin_token(client, app)
    developer, release = _developer(client, app)
    merchant = merchant_token(client, shop)
    shopper, address = make_shopper(client, shop)
    console, store = f"{shop.prefix}/api/console", f"{shop.prefix}/api"
    as_merchant, as_shopper = bearer(merchant), bearer(shopper)
    skus = make_product(app, shop, title="合同测试商品", price=2000, stock=10_000)
    sale_skus = make_product(app, shop, title="秒杀合同商品", price=5000, stock=10_000)
    by_title = {p["title"]: p["id"] for p in _ok(client.get(f"{store}/products"))["items"]}
    products = [by_title["合同测试商品"], by_title["秒杀合同商品"]]
    start, end = (datetime.now(UTC) + timedelta(minutes=delta) for delta in (-5, 7 * 24 * 60))
    campaign = _ok(
        client.post(
            f"{console}/x/groupbuy/campaigns",
            headers=as_merchant,
            json={
                "title": "三人团",
                "product_id": products[1],
                "group_size": 3,
                "tiers": [{"size": 2, "percent": "95"}, {"size": 3, "percent": "90"}],
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
                "quota": 1000,
            },
        )
    )
    sale = _ok(
        client.post(
            f"{console}/x/flashsale/sales",
            headers=as_merchant,
            json={
                "title": "合同秒杀",
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
                "published": True,
                "per_order_limit": 5,
                "per_shopper_limit": 50,
                "items": [{"sku_id": sale_skus[0], "sale_price": 4000, "quota": 100}],
            },
        )
    )
    distributor = _ok(client.post(f"{store}/x/distribution/apply", headers=as_shopper, json={"agree": True}))
    if distributor["status"] != "approved":
        _ok(
            client.post(
                f"{console}/x/distribution/distributors/{distributor['id']}/decision",
                headers=as_merchant,
                json={"approve": True},
            )
        )

    def order():
        return _ok(
            client.post(
                f"{store}/orders",
                headers=as_shopper,
                json={"items": [{"sku_id": skus[0], "quantity": 1}], "address_id": address},
            )
        )

    unpaid, paid = order(), order()
    pay_with_sandbox(client, shop, shopper, paid["id"])
    template = _ok(
        client.post(
            f"{console}/shipping-templates",
            headers=as_merchant,
            json={"name": "全国", "rules": [{"regions": ["*"], "first": 1, "first_fee": 800}]},
        )
    )
    category = _ok(client.post(f"{console}/categories", headers=as_merchant, json={"name": "合同分类"}))
    ids = {
        "product_id": products,
        "sku_id": skus + sale_skus,
        "order_id": [unpaid["id"], paid["id"]],
        "campaign_id": [campaign["id"]],
        "sale_id": [sale["id"]],
        "distributor_id": [distributor["id"]],
        "template_id": [template["id"]],
        "category_id": [category["id"]],
        "release_id": [release],
    }
    return {
        "tokens": {
            "adminToken": admin,
            "merchantToken": merchant,
            "shopperToken": shopper,
            "developerToken": developer,
        },
        "fixed": {"path.store": shop.slug, "path.store_id": target.store_id},
        "ids": ids,
        "body": {
            "body.sku_id": "sku_id",
            "body.items[*].sku_id": "sku_id",
            "body.product_id": "product_id",
            "body.address_id": [address],
        },
    }


def _run(app):
    seeded = _seed(app)
    dictionaries = {name: {"values": values} for name, values in seeded["ids"].items()}
    bindings = {f"path.{name}": {"dictionary": name, "probability": 0.5} for name in seeded["ids"]}
    for key, source in seeded["body"].items():
        if isinstance(source, list):
            dictionaries[key] = {"values": source}
            source = key
        bindings[key] = {"dictionary": source, "probability": 0.5}
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "cache": {"enabled": False},
            "dictionaries": dictionaries,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}, "coverage": {"unexpected-methods": ["TRACE"]}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "parameters": seeded["fixed"] | bindings,
            "auth": {"openapi": {name: {"bearer": token} for name, token in seeded["tokens"].items()}},
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=config)
    failures: dict[tuple, str] = {}
    operations, examples, calls = set(), 0, 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            operations.add(recorder.label)
            examples += len(recorder.cases)
            calls += len(recorder.interactions)
            for checks in recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        key = (recorder.label, check.name, getattr(failure, "title", ""), str(failure.message)[:200])
                        failures.setdefault(key, check.failure_info.code_sample)
        elif isinstance(event, events.NonFatalError):  # an exception out of the app: a 500
            failures.setdefault((event.label, "server error", "", str(event.info)[:300]), "")
        elif isinstance(event, events.FatalError):
            failures.setdefault(("run", "fatal error", "", repr(event.exception)), "")
    return operations, examples, calls, failures


def test_every_operation_core_and_plugin_is_in_the_document(contract_app):
    """Every API route of the app, the plugins' too, is a documented operation; plugin operations
    are tagged with their plugin; every success answer with a body has a schema."""
    doc = contract_app.test_client().get("/api/openapi.json").get_json()
    documented = {(path, method): op for path, item in doc["paths"].items() for method, op in item.items()}
    for rule in contract_app.url_map.iter_rules():
        if not rule.endpoint.split(".")[0].endswith("api") or rule.endpoint == "api.openapi_json":
            continue
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule.rule).replace("{store_slug}", "{store}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = documented.get((path, method.lower()))
            assert op is not None, (path, method)
            if "/x/" in path:
                assert op["tags"] == [path.split("/x/")[1].split("/")[0]], (path, op["tags"])
    assert {tag for op in documented.values() for tag in op["tags"]} >= set(PLUGINS)
    for (path, method), op in documented.items():
        for status, response in op["responses"].items():
            if status.startswith("2") and status != "204" and "$ref" not in response:
                assert response.get("content"), (path, method, status)
                assert all(
                    media.get("schema") or not kind.endswith("json") for kind, media in response["content"].items()
                ), (path, method, status)


def test_the_api_keeps_its_contract(contract_app, contract_report):
    operations, examples, calls, failures = _run(contract_app)
    summary = (
        f"API contract ({contract_app.mallow_backend}): {len(operations)} operations, {examples} examples, "
        f"{calls} calls, {len(failures)} failures"
    )
    contract_report(summary)
    assert {label for label in operations if " /dev/api/" in label} == {
        "POST /dev/api/tokens",
        "GET /dev/api/releases",
        "POST /dev/api/releases",
        "GET /dev/api/releases/{release_id}",
    }, "the developer API is exercised too"
    details = "\n\n".join(
        f"{label} [{check}] {title}\n{message}\n{sample}"
        for (label, check, title, message), sample in sorted(failures.items())
    )
    assert not failures, summary + "\n\n" + details
