"""Fixtures of the fault tests: each causes its fault on servers of its own (never the shared
PostgreSQL or Redis, which other test processes use at the same time). The reusable parts are in
the kit: :mod:`mallow.testing.faults`."""

from __future__ import annotations

import shutil

import pytest

from mallow.testing.faults import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A throwaway ``redis-server`` of this module (free port, nothing kept on disk), for the
    test to kill and restart; killed afterwards."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server
