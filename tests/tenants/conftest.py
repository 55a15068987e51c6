"""Shared by the PostgreSQL pool tests of this folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_connection_app(tmp_path_factory):
    """A PostgreSQL app whose pool holds one connection: what one request leaves on it, the next
    one meets."""
    from mallow.testing import build_app, dispose_app

    app = build_app(
        tmp_path_factory,
        "postgresql",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 5},
    )
    yield app
    dispose_app(app)
