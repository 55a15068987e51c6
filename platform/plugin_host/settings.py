"""A plugin's per-store settings: the form generated from its manifest's ``settings_schema``,
and validation with messages a merchant can act on.

The schema is JSON Schema (an object with ``properties``). The console shows a field for each
property of type ``string`` (an ``enum`` becomes a choice), ``integer``, ``number`` and
``boolean``, labelled with its ``title`` and explained by its ``description`` (either may be a
``{"zh_CN": …, "en": …}`` mapping). Other properties are kept as they are, set through the API.

Money: ``{"type": "integer", "format": "money"}`` is stored in fen like every amount in Mallow,
but merchants think in yuan: the form shows and takes yuan ("100" or "99.50", with ``¥``),
converted exactly by :mod:`mallow.money`, and its ``minimum``/``maximum`` (fen in the schema) are
told in yuan. The API stays in fen.

After the schema, the plugin itself may check one setting against another (满 200 减 300 makes
no sense): its ``mallow_validate_settings(settings)`` returns ``{field: message}``. Only the
plugin whose settings are saved is asked; one that raises is logged with its name and the save
is refused with a general message, never a 500.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from flask_babel import gettext as _
from jsonschema import Draft202012Validator

from mallow.money import MoneyError, fen_to_price, yuan_to_fen
from mallow.plugin_host.discovery import Manifest
from mallow.plugins.acting import acting_as
from mallow.plugins.manager import plugin_key
from mallow.plugins.manifests import localized
from mallow.validation import ValidationFailed

log = logging.getLogger("mallow.plugins")


@dataclass
class SettingField:
    key: str
    kind: str  # text | integer | money | number | checkbox | select
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
    if kind == "integer" and is_money(spec):
        return "money"
    return {"string": "text", "integer": "integer", "number": "number", "boolean": "checkbox"}.get(kind)


def is_money(spec) -> bool:
    """Whether a settings property is an amount of money (integer fen, shown in yuan)."""
    return isinstance(spec, dict) and spec.get("format") == "money"


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
        elif item.kind == "money":
            try:
                settings[item.key] = yuan_to_fen(raw)
            except MoneyError:
                problems[item.key] = ("money", _("Enter an amount, e.g. 100 or 99.50."))
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
    if is_money(error.schema) and error.validator in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        value = fen_to_price(value)  # the schema says fen, the merchant reads yuan: "¥100.00"
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
    """Field errors of ``settings`` against the manifest's schema, then (when the schema is
    satisfied) the plugin's own cross-field check; empty when valid."""
    errors = schema_errors(manifest, settings)
    return errors or plugin_errors(manifest, settings)


def schema_errors(manifest: Manifest, settings) -> dict[str, tuple[str, str]]:
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


def plugin_errors(manifest: Manifest, settings: dict) -> dict[str, tuple[str, str]]:
    """The plugin's ``mallow_validate_settings`` answer for ``settings`` (a copy), as field
    errors. Only this plugin's implementation is called (pluggy's ``subset_hook_caller``), as
    the plugin; a plugin not loaded in this app, or without the hook, has nothing to say."""
    if not has_app_context():
        return {}
    manager = current_app.extensions.get("mallow.plugins")
    module = manager.get_plugin(plugin_key(manifest.name)) if manager is not None else None
    if module is None:
        return {}
    others = [plugin for plugin in manager.get_plugins() if plugin is not module]
    caller = manager.subset_hook_caller("mallow_validate_settings", remove_plugins=others)
    try:
        with acting_as(manifest.name):
            answers = caller(settings=dict(settings))
    except Exception:
        log.exception("plugin %s failed in mallow_validate_settings", manifest.name)
        return {"settings": ("plugin_failed", _("These settings could not be checked right now. Try again later."))}
    return _field_errors(manifest, answers)


def _field_errors(manifest: Manifest, answers: list) -> dict[str, tuple[str, str]]:
    properties = _properties(manifest)
    errors: dict[str, tuple[str, str]] = {}
    for answer in answers:
        if not isinstance(answer, dict):
            log.warning("plugin %s: mallow_validate_settings returned %r, not a dict", manifest.name, answer)
            return {"settings": ("plugin_failed", _("These settings could not be checked right now. Try again later."))}
        for key, message in answer.items():
            name = str(key) if key in properties else "settings"
            errors.setdefault(name, ("invalid", str(message)[:200]))
    return errors
