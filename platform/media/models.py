"""The media library of a store (a store table): images uploaded once, used by pages and the
catalogue. Files live under ``uploads/stores/<id>/media/`` with server-made names."""

from __future__ import annotations

import sqlalchemy as sa
from mallow.db import StoreModel, utcnow
from sqlalchemy.orm import Mapped, mapped_column


class MediaAsset(StoreModel):
    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: relative to the data dir: ``uploads/stores/<id>/media/<32 hex>.<ext>``
    path: Mapped[str] = mapped_column(sa.String(200), unique=True)
    #: ``{"320": path, "750": path}``: smaller copies for ``srcset``
    thumbnails: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    bytes: Mapped[int] = mapped_column()
    #: the uploader's file name, for the merchant's eyes only (never used as a path)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[sa.DateTime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
