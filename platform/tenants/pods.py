"""Pods: the PostgreSQL databases that hold store schemas, and which store is on which.

A store's schema (``store_<id>``) lives in exactly one pod. The platform's own database is the pod
``main`` (a row the platform migration makes; ``stores.pod`` NULL means it), so an install that
never adds a pod works as before. More pods are PostgreSQL databases — on other servers, or other
clusters of one server — added with ``mallow pod add NAME URL --capacity N``. The platform keeps
the map (``stores.pod``); every app node and worker routes a store's tables to its pod's engine
(:mod:`mallow.tenants.engines`: one engine per pod per process, the same translate map), and
keeps the store's pod under the store's stamp, so a move (:mod:`mallow.stores.move`) reaches every
process when the stamp moves.

* **The address.** ``pods.url`` holds an address without a password (trust, a client
  certificate or ``~/.pgpass`` on the app nodes), or ``env:NAME``: the address is in that
  environment variable of every app node and worker, and the platform database holds no
  secret. An address with a password is refused.
* **Placement.** A new store goes on the open pod with the most room: capacity − stores placed
  there (every store not purged counts, closed ones included: their data are still there); ties
  by name. A draining pod takes no new store; its stores stay until moved.
* **SQLite** (the embedded default) has one pod, the data dir: every store is a file of its own
  already. Pod commands say so and change nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from mallow.db import db
from mallow.tenants import stamps
from mallow.tenants.engines import PODS_STAMP, PodUnavailable, pod_address, pod_key
from mallow.tenants.models import MAIN_POD, POD_STATES, Pod, Store

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class PodProblem(ValueError):
    """A pod command that cannot be done, in words an operator can act on."""


class PodsNeedPostgreSQL(PodProblem):
    def __init__(self):
        super().__init__(
            "pods are a PostgreSQL feature: on SQLite every store is its own file in the data dir already "
            "(one pod, nothing to add or move)"
        )


@dataclass(frozen=True)
class PodRoom:
    name: str
    state: str
    capacity: int
    stores: int
    address: str  # as the table holds it (env:NAME, or an address without a password)

    @property
    def room(self) -> int:
        return self.capacity - self.stores


def _engines():
    return current_app.extensions["mallow.store_engines"]


def require_postgresql() -> None:
    if not _engines().is_postgresql:
        raise PodsNeedPostgreSQL()


def _placed() -> sa.Select:
    """``(pod name, stores)`` of the stores not purged, NULL counted as ``main``."""
    pod = sa.func.coalesce(Store.pod, MAIN_POD)
    return sa.select(pod.label("pod"), sa.func.count().label("stores")).where(Store.status != "purged").group_by(pod)


def rooms(session=None) -> list[PodRoom]:
    """Every pod with its stores and room, by name."""
    session = session or db.session
    placed = dict(session.execute(_placed()).all())
    pods = session.execute(sa.select(Pod).order_by(Pod.name)).scalars().all()
    return [PodRoom(p.name, p.state, p.capacity, placed.get(p.name, 0), p.url) for p in pods]


def place(connection: sa.Connection | None = None) -> str | None:
    """The pod a new store goes on: the open pod with the most room, ties by name; None for
    ``main`` (and on SQLite, and when no pod is open: the platform's own database)."""
    if not _engines().is_postgresql:
        return None
    pod = sa.func.coalesce(Store.pod, MAIN_POD)
    placed = (
        sa.select(pod.label("pod"), sa.func.count().label("n")).where(Store.status != "purged").group_by(pod).subquery()
    )
    room = Pod.capacity - sa.func.coalesce(placed.c.n, 0)
    query = (
        sa.select(Pod.name)
        .outerjoin(placed, placed.c.pod == Pod.name)
        .where(Pod.state == "open")
        .order_by(room.desc(), Pod.name)
        .limit(1)
    )
    try:
        found = (connection or db.session).execute(query).scalar()
    except sa.exc.ProgrammingError:  # not migrated to pods yet (a connection given: its caller's)
        return None
    return pod_key(found)


def get(name: str) -> Pod | None:
    return db.session.get(Pod, name)


def add(name: str, url: str, capacity: int) -> Pod:
    """Record pod ``name`` at ``url`` (checked: it must answer) with room for ``capacity`` stores."""
    require_postgresql()
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        raise PodProblem(f"{name!r} cannot name a pod: a lowercase letter, then letters, digits, - or _ (at most 32)")
    if name == MAIN_POD:
        raise PodProblem("main is the platform's own database: it is there already")
    if capacity < 0:
        raise PodProblem("the capacity is a number of stores: 0 or more")
    try:
        with_password = not url.startswith("env:") and sa.engine.make_url(pod_address(url)).password
    except sa.exc.ArgumentError:
        raise PodProblem(f"{url!r} is not a database address") from None
    if with_password:
        raise PodProblem(
            "the address holds a password, which the platform database would then keep: give env:NAME "
            "(the address in that environment variable of every app node and worker) or use trust/certificates/.pgpass"
        )
    if get(name) is not None:
        raise PodProblem(f"there is a pod {name!r} already")
    check_reachable(url)
    pod = Pod(name=name, url=url, capacity=capacity, state="open")
    db.session.add(pod)
    db.session.commit()
    stamps.bump_named(PODS_STAMP)
    return pod


def check_reachable(url: str) -> None:
    """Connect once to ``url``; a PostgreSQL database or :class:`PodProblem` saying why not."""
    try:
        engine = sa.create_engine(pod_address(url), poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as connection:
                if connection.dialect.name != "postgresql":
                    raise PodProblem("a pod is a PostgreSQL database")
                connection.execute(sa.text("SELECT 1"))
        finally:
            engine.dispose()
    except PodUnavailable as error:
        raise PodProblem(str(error)) from None
    except sa.exc.ArgumentError as error:  # a malformed address
        raise PodProblem(f"not a database address: {error}") from None
    except sa.exc.SQLAlchemyError as error:
        why = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise PodProblem(f"the pod does not answer: {why}") from None


def set_state(name: str, state: str) -> Pod:
    """``drain`` (no new stores) or ``open`` a pod."""
    require_postgresql()
    pod = get(name)
    if pod is None:
        raise PodProblem(f"no pod {name!r}")
    if pod.state != state:
        POD_STATES.check(pod.state, state)
        pod.state = state
        db.session.commit()
        stamps.bump_named(PODS_STAMP)
    return pod


def pod_of_store(store: Store) -> str:
    """The store's pod by name (``main`` for the platform's database)."""
    return store.pod or MAIN_POD
