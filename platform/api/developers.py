"""The developer API (``/dev/api/…``) that ``mallow plugin publish`` talks to: a token for an
e-mail and password, upload a wheel, list releases with their review status and the reviewer's
reason, one release with what changed since the last approved version.

Declared through the registry like every other API (area ``dev_api``, auth ``developer``: bearer
tokens with the ``dev_`` prefix), so it is in the OpenAPI document and the contract test. The work
is :mod:`mallow.developers`'; a developer sees their own releases and how many stores enabled each
plugin, never which stores.
"""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_babel import gettext as _

from mallow.accounts import sessions
from mallow.accounts.authenticate import authenticate, login_limits
from mallow.accounts.guards import developer_required, principal
from mallow.api.registry import nullable, obj, operation, returns, schema, shape, string
from mallow.api.views import iso
from mallow.db import db
from mallow.developers import changes, publishing, stats, wheels
from mallow.plugin_host.discovery import NAME_RE
from mallow.plugin_host.models import RELEASE_STATES, PluginRelease
from mallow.validation import ValidationFailed

ERR = {"$ref": "#/components/responses/ValidationFailed"}
_TEXT = {"type": "string"}
_PATHS = {"type": "array", "items": _TEXT}
DEVELOPER_TOKEN = schema(
    "DeveloperToken", shape({"token": {**_TEXT, "description": "a developer token, dev_… (shown once)"}})
)
DEVELOPER_RELEASE = schema(
    "DeveloperRelease",
    shape(
        {
            "id": {"type": "integer"},
            "name": {**_TEXT, "description": "the plugin's name"},
            "version": _TEXT,
            "status": {"type": "string", "enum": list(RELEASE_STATES.states)},
            "reason": nullable({**_TEXT, "description": "the reviewer's reason (a rejection, a withdrawal)"}),
            "submitted_at": nullable({**_TEXT, "format": "date-time"}),
            "reviewed_at": nullable({**_TEXT, "format": "date-time"}),
            "archive_sha256": nullable({**_TEXT, "description": "SHA-256 (hex) of the uploaded wheel"}),
            "changes": shape(
                {
                    "base": nullable({**_TEXT, "description": "the last approved version before it (null: none)"}),
                    "added": _PATHS,
                    "changed": _PATHS,
                    "removed": _PATHS,
                }
            ),
        },
        optional=("changes",),
    ),
)
ONE_RELEASE = shape({"release": DEVELOPER_RELEASE})


def release_json(release: PluginRelease, with_changes: bool = False) -> dict:
    data = {
        "id": release.id,
        "name": release.name,
        "version": release.version,
        "status": release.status,
        "reason": release.reason,
        "submitted_at": iso(release.created_at),
        "reviewed_at": iso(release.reviewed_at),
        "archive_sha256": release.archive_sha256,
    }
    if with_changes:
        data["changes"] = changes.since_approved(release)
    return data


@operation(
    "dev_api",
    "POST",
    "/tokens",
    "createDeveloperToken",
    "Exchange a developer's e-mail and password for a bearer token",
    tag="developers",
    auth=None,
    body=obj({"email": string(254), "password": string(128)}, ["email", "password"]),
    responses={
        "201": returns("The token (shown once)", DEVELOPER_TOKEN),
        "422": ERR,  # a wrong e-mail or password is a field error on ``password``
    },
)
@login_limits
def create_token():
    data = request.get_json()
    developer = authenticate("developer", data["email"], data["password"])
    if developer is None:
        raise ValidationFailed({"password": ("invalid", _("Wrong e-mail address or password."))})
    token = sessions.issue(developer, "token")
    db.session.commit()
    return jsonify(token=token), 201


@operation(
    "dev_api",
    "GET",
    "/releases",
    "listDeveloperReleases",
    "The developer's releases, newest first per plugin, and how many stores enabled each plugin",
    tag="developers",
    auth="developer",
    parameters=[
        {
            "name": "name",
            "in": "query",
            "schema": {"type": "string", "pattern": NAME_RE.pattern, "description": "only this plugin's releases"},
        }
    ],
    responses={
        "200": returns(
            "The releases and, per plugin, the number of stores that have it on (never which)",
            shape(
                {
                    "releases": {"type": "array", "items": DEVELOPER_RELEASE},
                    "stores": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                }
            ),
        )
    },
)
@developer_required
def list_releases():
    name = request.args.get("name") or None
    if name is not None and not NAME_RE.match(name):
        return jsonify(releases=[], stores={})  # no plugin can have that name (nor reach the database)
    found = publishing.releases_of(principal("developer"), name)
    counts = stats.store_counts(sorted({release.name for release in found}))
    return jsonify(releases=[release_json(release) for release in found], stores=counts)


@operation(
    "dev_api",
    "POST",
    "/releases",
    "uploadPluginRelease",
    "Upload a built plugin wheel: it becomes a release submitted for review",
    tag="developers",
    auth="developer",
    body={
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary", "description": "the wheel (.whl)"}},
    },
    body_type="multipart/form-data",
    responses={
        "201": returns("Submitted for review, with what changed since the last approved version", ONE_RELEASE),
        "422": ERR,  # fields.file: not a wheel, a version uploaded already, a name that is not yours…
    },
)
@developer_required
def upload_release():
    upload = request.files.get("file")
    data = upload.read(wheels.MAX_UPLOAD + 1) if upload else b""
    release = publishing.publish(principal("developer"), upload.filename if upload else "", data)
    return jsonify(release=release_json(release, with_changes=True)), 201


@operation(
    "dev_api",
    "GET",
    "/releases/<int:release_id>",
    "getDeveloperRelease",
    "One of the developer's releases, with what changed since the last approved version",
    tag="developers",
    auth="developer",
    responses={"200": returns("The release (anybody else's is a 404)", ONE_RELEASE)},
)
@developer_required
def show_release(release_id):
    release = publishing.release_of(principal("developer"), release_id)
    if release is None:
        abort(404)
    return jsonify(release=release_json(release, with_changes=True))
