"""A plugin's per-store settings: the form generated from its manifest's ``settings_schema``,
and validation with messages a merchant can act on.

The schema is JSON Schema (an object with ``properties``). The console shows a field for each
property of type ``string`` (an ``enum`` becomes a choice), ``integer``, ``number`` and
``boolean``, labelled with its ``title`` and explained by its ``description`` (either may be a
``{"zh_CN": …, "en": …}`` mapping). Other properties are kept as they are, set through the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from jsonschema import Draft202012Validator

from mallow.plugin_host.discovery import Manifest
from mallow.plugins.manifests import localized
from mallow.validation import ValidationFailed


@dataclass
class SettingField:
    key: str
    kind: str  # text | integer | number | checkbox | select
    label: str
    hint: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    required: bool = False


def _properties(manifest: Manifest) -> dict:
    return (manifest.settings_schema or {}).get("properties") or {}


def _kind(spec: dict) -> str | None:
    kind = spec.get("type")
    if "enum" in spec:
        return "select"
    return {"string": "text", "integer": "integer", "number": "number", "boolean": "checkbox"}.get(kind)


def fields(manifest: Manifest) -> list[SettingField]:
    """The form fields of a plugin's settings, in the manifest's order."""
    required = set((manifest.settings_schema or {}).get("required") or ())
    found = []
    for key, spec in _properties(manifest).items():
        if not isinstance(spec, dict) or _kind(spec) is None:
            continue
        labels = spec.get("x-labels") or {}
        found.append(
            SettingField(
                key=key,
                kind=_kind(spec),
                label=localized(spec.get("title")) or key,
                hint=localized(spec.get("description")),
                options=[(str(v), localized(labels.get(str(v))) or str(v)) for v in spec.get("enum", ())],
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                max_length=spec.get("maxLength"),
                required=key in required,
            )
        )
    return found


def parse_form(manifest: Manifest, form, current: dict) -> dict:
    """Settings from a submitted form (``s_<key>`` fields), typed by the schema; properties the
    form does not show keep their current values. Raises ``ValidationFailed`` for values that
    are not numbers where numbers are asked for."""
    settings = dict(current or {})
    problems = {}
    for item in fields(manifest):
        name = f"s_{item.key}"
        spec = _properties(manifest)[item.key]
        if item.kind == "checkbox":
            settings[item.key] = "1" in form.getlist(name)
            continue
        raw = (form.get(name) or "").strip()
        if raw == "":
            settings.pop(item.key, None)  # the default applies (or "required" is reported)
            continue
        if item.kind == "select":
            settings[item.key] = next((v for v in spec["enum"] if str(v) == raw), raw)
        elif item.kind == "integer":
            try:
                settings[item.key] = int(raw)
            except ValueError:
                problems[item.key] = ("type", _("Enter a whole number."))
        elif item.kind == "number":
            try:
                number = float(raw)
            except ValueError:
                problems[item.key] = ("type", _("Enter a number."))
            else:
                settings[item.key] = int(number) if number.is_integer() else number
        else:
            settings[item.key] = raw
    if problems:
        raise ValidationFailed(problems)
    return settings


def _message(error) -> str:
    value = error.validator_value
    if error.validator == "type":
        return {
            "integer": _("Enter a whole number."),
            "number": _("Enter a number."),
            "boolean": _("Choose yes or no."),
            "string": _("Enter text."),
        }.get(value if isinstance(value, str) else "", _("This value is not accepted."))
    if error.validator == "enum":
        return _("Choose one of the listed values.")
    if error.validator in ("minimum", "exclusiveMinimum"):
        return (
            _("Enter %(min)s or more.", min=value)
            if error.validator == "minimum"
            else _("Enter more than %(min)s.", min=value)
        )
    if error.validator in ("maximum", "exclusiveMaximum"):
        return (
            _("Enter %(max)s or less.", max=value)
            if error.validator == "maximum"
            else _("Enter less than %(max)s.", max=value)
        )
    if error.validator == "minLength":
        return _("Use %(min)s characters or more.", min=value)
    if error.validator == "maxLength":
        return _("Use %(max)s characters or fewer.", max=value)
    if error.validator == "pattern":
        return _("This value does not have the expected form.")
    return _("This value is not accepted.")


def validate(manifest: Manifest, settings) -> dict[str, tuple[str, str]]:
    """Field errors of ``settings`` against the manifest's schema (empty when valid)."""
    errors: dict[str, tuple[str, str]] = {}
    if not isinstance(settings, dict):
        return {"settings": ("type", _("Settings are an object of named values."))}
    schema = manifest.settings_schema or {"type": "object"}
    for error in Draft202012Validator(schema).iter_errors(settings):
        if error.validator == "required":
            for key in error.validator_value:
                if key not in settings:
                    errors.setdefault(key, ("required", _("Fill this in.")))
            continue
        if error.validator == "additionalProperties" and not error.path:
            for key in settings:
                if key not in (schema.get("properties") or {}):
                    errors.setdefault(str(key), ("unknown", _("This plugin has no such setting.")))
            continue
        name = ".".join(str(p) for p in error.path) or "settings"
        errors.setdefault(name, (error.validator, _message(error)))
    return errors
