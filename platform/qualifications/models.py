"""Qualification applications: one row per submission, reviewed by platform admins."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mallow.db import PlatformModel, utcnow
from mallow.statemachine import StateMachine

#: submitted → approved | rejected | superseded (a newer submission replaced it);
#: approved → expired (a document lapsed) | superseded (a newer one was approved).
QUALIFICATION_STATES = StateMachine(
    "qualification",
    {
        "submitted": {"approved", "rejected", "superseded"},
        "approved": {"expired", "superseded"},
        "rejected": set(),
        "expired": set(),
        "superseded": set(),
    },
)
SUBJECT_TYPES = ("enterprise", "individual_business", "other")


class Qualification(PlatformModel):
    __tablename__ = "qualifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id"), index=True)
    #: the client's id for this submission: sending it again returns the same row
    application_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    revision: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted", index=True)
    category: Mapped[str] = mapped_column(sa.String(40))
    subject_type: Mapped[str] = mapped_column(sa.String(24))
    uscc: Mapped[str] = mapped_column(sa.String(18), index=True)
    legal_name: Mapped[str] = mapped_column(sa.String(120))
    legal_representative: Mapped[str] = mapped_column(sa.String(60))
    legal_rep_id_cipher: Mapped[str] = mapped_column(sa.Text)
    legal_rep_id_masked: Mapped[str] = mapped_column(sa.String(24))
    registered_address: Mapped[str] = mapped_column(sa.String(200))
    licence_valid_until: Mapped[sa.Date | None] = mapped_column(sa.Date, nullable=True)  # None = 长期
    licence_image: Mapped[str] = mapped_column(sa.String(200))
    contact_name: Mapped[str] = mapped_column(sa.String(60))
    contact_phone_cipher: Mapped[str] = mapped_column(sa.Text)
    contact_phone_masked: Mapped[str] = mapped_column(sa.String(20))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    submitted_by: Mapped[int] = mapped_column()
    submitted_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(nullable=True)
    decided_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    field_reasons: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: E-Commerce Law art. 27: verified again periodically (every six months)
    review_due_at: Mapped[sa.DateTime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    permits: Mapped[list[QualificationPermit]] = relationship(
        back_populates="qualification", cascade="all, delete-orphan", order_by="QualificationPermit.id"
    )

    __table_args__ = (
        sa.UniqueConstraint("store_id", "revision", name="uq_qualifications_store_revision"),
        sa.CheckConstraint("status IN ('submitted', 'approved', 'rejected', 'expired', 'superseded')", name="status"),
    )


class QualificationPermit(PlatformModel):
    __tablename__ = "qualification_permits"

    id: Mapped[int] = mapped_column(primary_key=True)
    qualification_id: Mapped[int] = mapped_column(sa.ForeignKey("qualifications.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.ForeignKey("permit_kinds.code"))
    number: Mapped[str] = mapped_column(sa.String(60))
    valid_until: Mapped[sa.Date | None] = mapped_column(sa.Date, nullable=True)
    image: Mapped[str] = mapped_column(sa.String(200))

    qualification: Mapped[Qualification] = relationship(back_populates="permits")


# The store-side table of products a lapsed permit took off the shelf (mallow.models imports this module).
from mallow.qualifications.holds import ShelfHold  # noqa: E402,F401
