"""Template filters every page may use, registered once for the whole app (core, themes and
plugins): money as text, from :mod:`mallow.money`, and times.

* ``{{ 1250|yuan }}`` → ``12.50`` (a plain amount, e.g. after a ¥ the template writes itself)
* ``{{ 1250|fen_to_yuan }}`` → ``¥12.50``; ``{{ -500|fen_to_yuan }}`` → ``-¥5.00``
* ``{{ order.created_at|order_time }}`` → ``2024-05-01 14:03`` (the store's time zone)
* ``{{ 902|clock }}`` → ``15:02``, ``{{ 3723|clock }}`` → ``1:02:03`` (a countdown's text)
"""

from __future__ import annotations

from flask import Flask
from flask_babel import format_datetime

from mallow.money import fen_to_price, fen_to_yuan


def order_time(moment) -> str:
    """A stored UTC time in the store's time zone (Asia/Shanghai), to the minute."""
    return format_datetime(moment, "yyyy-MM-dd HH:mm") if moment else ""


def clock(seconds) -> str:
    """Seconds left as a countdown: ``14:59``, ``1:02:03`` (orders.js keeps it ticking)."""
    seconds = max(0, int(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def init_app(app: Flask) -> None:
    app.add_template_filter(fen_to_yuan, "yuan")
    app.add_template_filter(fen_to_price, "fen_to_yuan")
    app.add_template_filter(order_time, "order_time")
    app.add_template_filter(clock, "clock")
