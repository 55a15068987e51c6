"""The store's chat settings (one ``settings`` row, key ``chat``): service hours, the automatic
answers (outside the hours, when nobody answers within N minutes, by keyword) and the quick
replies the staff pick from. Read with :func:`current`, checked and saved with :func:`save`."""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from mallow.db import db
from mallow.settings import StoreSetting
from mallow.validation import ValidationFailed

KEY = "chat"
#: service hours are the store's local time (Beijing)
ZONE = ZoneInfo("Asia/Shanghai")
MAX_KEYWORDS = 30
MAX_QUICK_REPLIES = 30
MAX_REPLY = 300
MAX_KEYWORD = 20
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def defaults() -> dict:
    return {
        "hours_enabled": False,
        "hours_start": "09:00",
        "hours_end": "21:00",
        "away_text": "",
        "no_answer_minutes": 0,
        "no_answer_text": "",
        "keywords": [],
        "quick_replies": [],
    }


def current() -> dict:
    """The active store's chat settings (defaults for what was never set)."""
    row = db.session.get(StoreSetting, KEY)
    value = defaults()
    if row is not None and isinstance(row.value, dict):
        value.update({k: v for k, v in row.value.items() if k in value})
    return value


def away_text(value: dict) -> str:
    return value["away_text"] or _(
        "Thanks for your message. We are away now and will answer during service hours (%(start)s–%(end)s).",
        start=value["hours_start"],
        end=value["hours_end"],
    )


def no_answer_text(value: dict) -> str:
    return value["no_answer_text"] or _("Sorry to keep you waiting: all our staff are busy. We will answer soon.")


def in_hours(value: dict, now: datetime) -> bool:
    """Whether ``now`` is inside the service hours (always, when they are off). An end before the
    start spans midnight (22:00–02:00)."""
    if not value["hours_enabled"]:
        return True
    local = now.astimezone(ZONE).time()
    start, end = _time(value["hours_start"]), _time(value["hours_end"])
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def keyword_reply(value: dict, text: str) -> str | None:
    """The reply of the first keyword that ``text`` contains (case-insensitive), or None."""
    folded = text.casefold()
    for entry in value["keywords"]:
        if entry["keyword"].casefold() in folded:
            return entry["reply"]
    return None


def parse_form(form) -> dict:
    """Settings from the console's form: keywords as ``keyword = reply`` lines, quick replies one per line."""
    keywords = []
    for line in (form.get("keywords") or "").splitlines():
        keyword, sep, reply = line.partition("=")
        if line.strip():
            keywords.append({"keyword": keyword.strip(), "reply": reply.strip() if sep else ""})
    return {
        "hours_enabled": bool(form.get("hours_enabled")),
        "hours_start": (form.get("hours_start") or "").strip(),
        "hours_end": (form.get("hours_end") or "").strip(),
        "away_text": (form.get("away_text") or "").strip(),
        "no_answer_minutes": (form.get("no_answer_minutes") or "0").strip(),
        "no_answer_text": (form.get("no_answer_text") or "").strip(),
        "keywords": keywords,
        "quick_replies": [line.strip() for line in (form.get("quick_replies") or "").splitlines() if line.strip()],
    }


def save(data: dict) -> dict:
    """Check ``data`` (field errors: :class:`ValidationFailed`) and store it; returns the value."""
    errors: dict[str, tuple[str, str]] = {}
    value = defaults()
    value["hours_enabled"] = bool(data.get("hours_enabled"))
    for field in ("hours_start", "hours_end"):
        text = str(data.get(field) or "")
        if not HHMM.match(text):
            errors[field] = ("invalid", _("Give a time like 09:00."))
        else:
            value[field] = text
    for field in ("away_text", "no_answer_text"):
        text = str(data.get(field) or "").strip()
        if len(text) > MAX_REPLY:
            errors[field] = ("too_long", _("At most %(num)s characters.", num=MAX_REPLY))
        value[field] = text
    minutes = str(data.get("no_answer_minutes") or "0").strip()
    if not (minutes.isascii() and minutes.isdigit()) or int(minutes) > 240:
        errors["no_answer_minutes"] = ("invalid", _("Give a number of minutes from 0 (off) to 240."))
    else:
        value["no_answer_minutes"] = int(minutes)
    keywords = data.get("keywords") or []
    if len(keywords) > MAX_KEYWORDS:
        errors["keywords"] = ("too_many", _("At most %(num)s keywords.", num=MAX_KEYWORDS))
    for entry in keywords:
        keyword, reply = str(entry.get("keyword") or "").strip(), str(entry.get("reply") or "").strip()
        if not keyword or not reply:
            errors["keywords"] = ("invalid", _("Write each keyword as: keyword = reply."))
        elif len(keyword) > MAX_KEYWORD or len(reply) > MAX_REPLY:
            errors["keywords"] = ("too_long", _("A keyword is at most 20 characters, its reply at most 300."))
        else:
            value["keywords"].append({"keyword": keyword, "reply": reply})
    replies = [str(r).strip() for r in data.get("quick_replies") or [] if str(r).strip()]
    if len(replies) > MAX_QUICK_REPLIES or any(len(r) > MAX_REPLY for r in replies):
        errors["quick_replies"] = ("invalid", _("At most 30 quick replies of 300 characters each."))
    value["quick_replies"] = replies
    if errors:
        raise ValidationFailed(errors)
    row = db.session.get(StoreSetting, KEY)
    if row is None:
        db.session.add(StoreSetting(key=KEY, value=value))
    else:
        row.value = value
    return value
