"""Field-level validation errors shared by pages (re-rendered forms) and the API (422 JSON)."""

from __future__ import annotations

import re

from flask_babel import gettext as _

EMAIL_RE = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
CN_MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")


class ValidationFailed(Exception):
    """``errors`` maps a field name to ``(code, message)``; nothing was written."""

    def __init__(self, errors: dict[str, tuple[str, str]]):
        super().__init__(", ".join(f"{f}: {c}" for f, (c, _) in errors.items()))
        self.errors = errors

    def as_json(self) -> dict:
        return {
            "error": "validation_failed",
            "message": _("Some fields need attention."),
            "fields": {
                field: {"code": code, "message": str(message)} for field, (code, message) in self.errors.items()
            },
        }


class Errors:
    """Collects field errors; ``raise_if_any()`` at the end of validation."""

    def __init__(self):
        self.errors: dict[str, tuple[str, str]] = {}

    def add(self, field: str, code: str, message) -> None:
        self.errors.setdefault(field, (code, str(message)))

    def __contains__(self, field: str) -> bool:
        return field in self.errors

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def text(data, key: str, limit: int | None = None) -> str:
    value = data.get(key) if hasattr(data, "get") else None
    value = value if isinstance(value, str) else ("" if value is None else str(value))
    # a NUL is never text anyone typed (and PostgreSQL refuses it in a text column: a 500 found
    # by the API's contract fuzzing on a qualification's multipart form)
    value = value.replace("\x00", "").strip()
    return value[:limit] if limit else value


def normalise_email(value: str) -> str:
    return value.strip().lower()
