"""The JSON API: ``/api/…`` (platform) and ``/s/<slug>/api/…`` (a store), Bearer tokens only.

Each operation is declared once with :func:`mallow.api.registry.operation`: its route, its
``operationId``, its auth, and the JSON Schema of its body. The same schema validates requests
(field-level 422 errors) and goes into the OpenAPI 3 document at ``/api/openapi.json``.
Declaring routes nothing: :func:`init_app` installs the modules ``create_app`` lists into the
app's own registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from flask import Flask

from mallow.api import cart_lane, errors, openapi, order_lane
from mallow.api.registry import EXTENSION, ApiRegistry
from mallow.extensions import csrf


def init_app(app: Flask, modules: Iterable[ModuleType]) -> ApiRegistry:
    """Give ``app`` its API: fresh blueprints with the operations the ``modules`` declare, the
    OpenAPI document, JSON errors."""
    registry = app.extensions[EXTENSION] = ApiRegistry()
    for module in modules:
        registry.install(module)
    registry.blueprints["api"].add_url_rule("/openapi.json", "openapi_json", openapi.openapi_json)
    for blueprint in registry.blueprints.values():
        csrf.exempt(blueprint)  # bearer-token auth only: a browser cannot be tricked into sending it
        errors.install(blueprint)
        app.register_blueprint(blueprint)
    cart_lane.install(app, registry)  # the cart write's happy path at the front door (mallow.edge.lanes)
    order_lane.install(app, registry)  # an order's happy path, with an Idempotency-Key
    return registry
