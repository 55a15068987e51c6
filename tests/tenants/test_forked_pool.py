"""A forked process never uses a connection its parent made (``mallow.db.hygiene``).

``mallow worker`` runs each job in a forked work horse, which inherits the worker's pool with the
worker's open connections. Before, a horse checked those out: two processes then shared one socket,
and a horse that ends with ``os._exit`` (rq's) left the server holding the transaction it was in
(seen in the flash-sale bench as connections "idle in transaction" for seconds, their snapshot
holding back the clean-up of the rows the drain updated). Now the horse connects afresh, and the
parent's connection stays its own and keeps working.
"""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa

from mallow.db import hygiene
from mallow.testing.servers import backend_params, drop_postgres_database, fresh_postgres_database


def _in_child(work) -> dict:
    """Run ``work()`` in a forked child that ends as an rq work horse does (``os._exit``), and
    return what it wrote back."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(read)
            answer = work()
        except BaseException as exc:  # noqa: BLE001 -- the parent reports it
            answer = {"error": repr(exc)}
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture(params=backend_params())
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'forked.db'}"
    else:
        url = fresh_postgres_database()
    engine = sa.create_engine(url, pool_size=2, max_overflow=0)
    hygiene.install(engine, {} if engine.dialect.name == "sqlite" else None)
    yield engine
    engine.dispose()
    if request.param != "sqlite":
        drop_postgres_database(url)


def _who(connection) -> object:
    if connection.dialect.name == "postgresql":
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    return id(connection.connection.dbapi_connection)


def test_a_forked_process_connects_afresh_and_leaves_the_parents_connection_alone(engine):
    with engine.connect() as connection:
        parent = _who(connection)
        connection.exec_driver_sql("SELECT 1")
        connection.rollback()

    def child():
        connection = engine.connect()  # left open in its transaction: the horse ends with os._exit
        connection.exec_driver_sql("SELECT 1")
        return {"who": _who(connection)}

    answer = _in_child(child)
    assert "error" not in answer, answer
    assert answer["who"] != parent  # not the parent's connection

    with engine.connect() as connection:  # the parent's own connection, still working and idle
        assert _who(connection) == parent
        assert connection.exec_driver_sql("SELECT 2").scalar() == 2
        if connection.dialect.name == "postgresql":
            state = connection.exec_driver_sql(f"SELECT state FROM pg_stat_activity WHERE pid = {int(parent)}").scalar()
            assert state == "active"  # this very statement: nobody left it in a transaction
