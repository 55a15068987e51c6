"""A qualification's images (the licence, each permit), sent to the admin reviewing it or to the
store's owner: never cached, and only from the media the qualification names."""

from __future__ import annotations

from flask import abort, send_file

from mallow.media.images import absolute_path
from mallow.qualifications.models import Qualification


def send_qualification_file(qualification: Qualification, which: str):
    """The licence (``licence``) or a permit image (``permit-<id>``) of a qualification."""
    if which == "licence":
        relative = qualification.licence_image
    else:
        permit = next((p for p in qualification.permits if f"permit-{p.id}" == which), None)
        relative = permit.image if permit else None
    path = absolute_path(relative) if relative else None
    if path is None:
        abort(404)
    response = send_file(path, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
