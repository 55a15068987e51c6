"""The ``stores`` platform table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.db import PlatformModel, utcnow
from mallow.statemachine import StateMachine

#: pending: signed up, waiting for an approved qualification (console works, storefront closed)
#: open: approved, storefront public; closing: the merchant asked to close: no new orders, the
#: orders already placed are still fulfilled and refunded, closed once none is left open (or an
#: admin closes it); suspended: closed for now by the platform or a lapsed licence; closed: the
#: merchant or the platform ended the store (its data kept for the retention period); purged: its
#: schema or file, files, Redis keys and jobs are gone, the row and its audit trail stay (the slug
#: is never given again). See :mod:`mallow.stores.lifecycle`.
STORE_STATES = StateMachine(
    "store",
    {
        "pending": {"open", "closed"},
        "open": {"closing", "suspended", "closed"},
        "closing": {"open", "suspended", "closed"},
        "suspended": {"open", "closed"},
        "closed": {"purged"},
        "purged": set(),
    },
)
#: states in which no job runs for the store (a queued one is dropped and logged: mallow.jobs)
JOBLESS_STATES = frozenset({"suspended", "closed", "purged"})
#: states whose periodic sweeps run (pending stores have nothing to sweep yet)
SWEPT_STATES = ("open", "closing")

#: the pod every store is on unless ``stores.pod`` names another: the platform's own database
MAIN_POD = "main"
#: open: takes new stores (placement); draining: takes none, its stores stay until moved away
POD_STATES = StateMachine("pod", {"open": {"draining"}, "draining": {"open"}})


class Pod(PlatformModel):
    """A PostgreSQL database holding store schemas (:mod:`mallow.tenants.pods`). ``url`` is an
    address without a password, or ``env:NAME`` (the address is in that environment variable of
    every app node and worker); the ``main`` row (the platform's own database) has none."""

    __tablename__ = "pods"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(500), default="")
    capacity: Mapped[int] = mapped_column(sa.Integer)
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(f"state IN {POD_STATES.states!r}".replace(",)", ")"), name="state"),
        sa.CheckConstraint("capacity >= 0", name="capacity"),
    )

    def __repr__(self) -> str:
        return f"<Pod {self.name} {self.state}>"


class Store(PlatformModel):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    main_category: Mapped[str] = mapped_column(sa.String(40))
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    opened_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    status_reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    #: the merchant asked to close (closing), the store ended (closed), its data are to be purged
    #: after (closed_at + MALLOW_STORE_RETENTION_DAYS), and were (purged)
    close_requested_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    closed_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    purge_after: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True, index=True)
    purged_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: the pod (database) holding the store's schema; None: the platform's own (``main``)
    pod: Mapped[str | None] = mapped_column(sa.String(32), nullable=True, index=True)
    #: a move to this pod is under way: writes are frozen (503, retry) until it ends
    moving_to: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)

    owner = relationship("Merchant")

    __table_args__ = (sa.CheckConstraint(f"status IN {STORE_STATES.states!r}".replace(",)", ")"), name="status"),)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_moving(self) -> bool:
        return self.moving_to is not None

    @property
    def runs_jobs(self) -> bool:
        return self.status not in JOBLESS_STATES

    def __repr__(self) -> str:
        return f"<Store {self.id} {self.slug} {self.status}>"
