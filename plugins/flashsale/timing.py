"""Time in the flash sale: UTC in the database, the store's zone (Asia/Shanghai) for people."""

from __future__ import annotations

from datetime import datetime, UTC
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def now() -> datetime:
    return datetime.now(UTC)


def store_zone() -> ZoneInfo:
    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or "Asia/Shanghai")


def store_day(moment: datetime) -> str:
    """The calendar day of ``moment`` in the store's zone, for the per-day limit."""
    return moment.astimezone(store_zone()).strftime("%Y-%m-%d")


def parse_local(text: str) -> datetime | None:
    """``2026-11-11T20:00`` (a datetime-local field, store time) or an ISO time with an offset →
    aware UTC; None when it is not a time."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=store_zone())
    return moment.astimezone(UTC)


def local_input(moment: datetime | None) -> str:
    """An aware time as the value of a datetime-local field (store time)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(store_zone()).strftime("%Y-%m-%dT%H:%M")


def local_text(moment: datetime | None) -> str:
    """An aware time as people read it in the store's zone: ``2026-11-11 20:00``."""
    return local_input(moment).replace("T", " ")
