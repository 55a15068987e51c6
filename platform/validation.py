"""Field-level validation errors shared by pages (re-rendered forms) and the API (422 JSON)."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _
from jsonschema import Draft202012Validator

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


def schema_check(schema: dict) -> Callable[[object], bool]:
    """Whether a parsed JSON value (a request's body) is valid for ``schema``, compiled once. A
    schema made of what the API's write bodies use is checked with plain comparisons
    (:func:`_plain`; no ``jsonschema`` call for a valid body, which costs more): an ``object``
    with ``properties``, ``required`` and ``additionalProperties: false`` (or a bare
    ``{"type": "object"}``), an ``integer`` with ``minimum``/``maximum``, a ``string`` with
    ``maxLength``, an ``array`` with ``minItems``/``maxItems``/``items`` of those. A value those
    comparisons do not settle plainly (``2.0`` is an integer to JSON Schema, ``true`` is not; a
    string that is not plainly one) goes to the ``jsonschema`` validator, which has the last word;
    so does every value of a schema with anything else in it."""
    is_valid = Draft202012Validator(schema).is_valid
    plain = _plain(schema)
    if plain is None:
        return is_valid

    def check(value) -> bool:
        verdict = plain(value)
        return is_valid(value) if verdict is None else verdict

    return check


#: ``check(value)`` → True (valid), False (invalid) or None (not plainly either: ask jsonschema)
_Plain = Callable[[object], "bool | None"]


def _plain(schema) -> _Plain | None:
    """Plain comparisons for ``schema``, or None when it has a keyword they do not cover."""
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if kind == "object":
        return _plain_object(schema)
    if kind == "integer" and not set(schema) - {"type", "minimum", "maximum"}:
        return _plain_integer(schema.get("minimum"), schema.get("maximum"))
    if kind == "string" and not set(schema) - {"type", "maxLength"}:
        return _plain_string(schema.get("maxLength"))
    if kind == "array" and not set(schema) - {"type", "minItems", "maxItems", "items"}:
        return _plain_array(schema)
    return None


def _plain_integer(low, high) -> _Plain | None:
    if any(bound is not None and type(bound) is not int for bound in (low, high)):
        return None

    def check(value):
        if type(value) is not int:
            return None  # a bool is no integer, 2.0 is one: jsonschema says
        return (low is None or value >= low) and (high is None or value <= high)

    return check


def _plain_string(longest) -> _Plain | None:
    if longest is not None and type(longest) is not int:
        return None

    def check(value):
        if type(value) is not str:
            return None
        return longest is None or len(value) <= longest  # code points, as jsonschema counts

    return check


def _plain_array(schema: dict) -> _Plain | None:
    fewest, most = schema.get("minItems", 0), schema.get("maxItems")
    if type(fewest) is not int or (most is not None and type(most) is not int):
        return None
    item = _plain(schema["items"]) if "items" in schema else _anything
    if item is None:
        return None

    def check(value):
        if type(value) is not list:
            return None
        if len(value) < fewest or (most is not None and len(value) > most):
            return False
        verdict: bool | None = True
        for element in value:
            found = item(element)
            if found is False:
                return False
            if found is None:
                verdict = None
        return verdict

    return check


def _anything(_value) -> bool:
    return True


def _plain_object(schema: dict) -> _Plain | None:
    if set(schema) == {"type"}:  # any object
        return lambda value: True if type(value) is dict else None
    properties = schema.get("properties")
    if (
        set(schema) - {"type", "properties", "required", "additionalProperties"}
        or schema.get("additionalProperties") is not False
        or not isinstance(properties, dict)
    ):
        return None
    checks = {}
    for name, spec in properties.items():
        found = _plain(spec)
        if found is None:
            return None
        checks[name] = found
    required = frozenset(schema.get("required") or ())
    if not required.issubset(checks):
        return None

    def check(value):
        if type(value) is not dict:
            return None
        if not required.issubset(value):
            return False
        verdict: bool | None = True
        for name, item in value.items():
            found = checks.get(name)
            if found is None:
                return False  # additionalProperties: false
            answer = found(item)
            if answer is False:
                return False
            if answer is None:
                verdict = None
        return verdict

    return check
