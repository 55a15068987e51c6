"""The JSON API: ``/api/…`` (platform) and ``/s/<slug>/api/…`` (a store), Bearer tokens only.

Each operation is declared once with :func:`mallow.api.registry.operation`: its route, its
``operationId``, its auth, and the JSON Schema of its body. The same schema validates requests
(field-level 422 errors) and goes into the OpenAPI 3 document at ``/api/openapi.json``.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # every module that declares operations (the builder's declared its own in init_builder)
    from mallow.api import (admin, aftersales, catalog, console, errors, openapi, orders,  # noqa: F401
                            payments, platform, plugins, shipping, store)
    from mallow.api.registry import blueprints
    from mallow.extensions import csrf

    for blueprint in blueprints():
        csrf.exempt(blueprint)  # bearer-token auth only: a browser cannot be tricked into sending it
        if not blueprint._got_registered_once:  # blueprints are module-level: one install
            errors.install(blueprint)
        app.register_blueprint(blueprint)
