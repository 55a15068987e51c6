"""The operationId caller the end-to-end tests use holds every answer to the OpenAPI document."""

from __future__ import annotations

import pytest

from mallow.testing import make_store
from tests.api.caller import Api


def test_an_answer_that_differs_from_the_document_fails_the_call(app):
    shop = make_store(app)
    api = Api(app.test_client())
    page = api("listProducts", store=shop.slug, expect=200).get_json()
    assert page["items"] == [] and page["total"] == 0

    api.doc["components"]["schemas"]["ProductPage"]["properties"]["total"] = {"type": "string"}
    with pytest.raises(AssertionError, match="does not match its documented schema"):
        api("listProducts", store=shop.slug)
    del api.operations["getCart"][2]["responses"]["401"]
    with pytest.raises(AssertionError, match="undocumented 401"):
        api("getCart", store=shop.slug)  # no token: 401, which the (edited) document no longer lists
