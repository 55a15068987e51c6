"""JSON errors for the API blueprints: never an HTML page, never a bare 500 for bad input."""

from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

from mallow.statemachine import InvalidTransition
from mallow.validation import ValidationFailed
from mallow.web import _error_name


def install(blueprint) -> None:
    @blueprint.errorhandler(ValidationFailed)
    def validation_failed(error):
        return jsonify(error.as_json()), 422

    @blueprint.errorhandler(InvalidTransition)
    def invalid_transition(error):
        return jsonify(error="conflict", message=str(error), current=error.current, target=error.target), 409

    @blueprint.errorhandler(HTTPException)
    def http_error(error):
        if error.response is not None:
            return error.response
        headers = [(k, v) for k, v in error.get_headers() if k.lower() not in ("content-type", "content-length")]
        return jsonify(error=_error_name(error.code), message=error.description), error.code, headers
