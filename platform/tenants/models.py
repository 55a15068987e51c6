"""The ``stores`` platform table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.db import PlatformModel, utcnow
from mallow.statemachine import StateMachine

#: pending: signed up, waiting for an approved qualification (console works, storefront closed)
#: open: approved, storefront public; suspended: closed by the platform or a lapsed licence;
#: closed: the merchant or the platform ended the store.
STORE_STATES = StateMachine(
    "store",
    {
        "pending": {"open", "closed"},
        "open": {"suspended", "closed"},
        "suspended": {"open", "closed"},
        "closed": set(),
    },
)


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

    owner = relationship("Merchant")

    __table_args__ = (sa.CheckConstraint(f"status IN {STORE_STATES.states!r}".replace(",)", ")"), name="status"),)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def __repr__(self) -> str:
        return f"<Store {self.id} {self.slug} {self.status}>"
