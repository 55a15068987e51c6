"""What one process gives to uploaded images (see :mod:`mallow.media.images`): at most
``MALLOW_UPLOAD_CONCURRENCY`` decoded at a time (:func:`image_slot`; :class:`ImagesBusy`, a 503,
after ``MALLOW_UPLOAD_WAIT_SECONDS``), freed heap handed back to the system, and the answer to an
upload refused for a reason that is not the file's (:class:`Refused`; :class:`StorageFull`, a
507, when the disk had no room for it)."""

from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager

from flask import current_app, has_request_context, jsonify, make_response, render_template_string
from werkzeug.exceptions import HTTPException

from mallow.web import _wants_json


class Refused(HTTPException):
    """An upload refused for a reason that is not the file's: answered with ``code`` and
    ``{"error": error, "message": message}`` to the API and to scripts asking for JSON, with a
    page showing the message to a browser. The response is made when raised (in the request)."""

    def __init__(self, code: int, error: str, message: str, retry_after: int | None = None, field: str | None = None):
        super().__init__(message)
        self.code, self.error, self.retry_after, self.field = code, error, retry_after, field
        self.response = _refusal_response(self) if has_request_context() else None


class ImagesBusy(Refused):
    """Every image slot of this process stayed taken for ``MALLOW_UPLOAD_WAIT_SECONDS`` (503)."""

    def __init__(self, retry_after: int = 5):
        from flask_babel import gettext as _

        super().__init__(
            503,
            "busy",
            _("The server is busy processing other images. Try again in a few seconds."),
            retry_after=retry_after,
        )


class StorageFull(Refused):
    """The disk (or the quota) had no room for the image: ``ENOSPC``, ``EDQUOT``, or ``EFBIG`` (a
    file size limit). Nothing was kept: the files written so far are deleted, no row is written
    (507 Insufficient Storage, with the message on the upload's field ``image``)."""

    def __init__(self):
        from flask_babel import gettext as _

        super().__init__(
            507,
            "storage_full",
            _(
                "The server has no room to store this image right now, so it was not saved and "
                "nothing was changed. Try again later; if it keeps happening, tell the platform."
            ),
            field="image",
        )


#: the 507 in the ``responses=`` of an API operation that stores an image
STORAGE_FULL_RESPONSE = {
    "description": "The server's storage is full: nothing was saved",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

#: the 503 in the ``responses=`` of every API operation that takes an image
BUSY_RESPONSE = {
    "description": "Busy processing other images: try again after Retry-After seconds",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

_REFUSAL_PAGE = """{% extends "base.html" %}{% block title %}{{ code }}{% endblock %}
{% block content %}<section class="card narrow"><h1>{{ code }}</h1><p>{{ message }}</p>
<p><a href="{{ url_for('home.index') }}">{{ _("Back to the start") }}</a></p></section>{% endblock %}"""


def _refusal_response(refused: Refused):
    body = {"error": refused.error, "message": refused.description}
    if refused.retry_after:
        body["retry_after"] = refused.retry_after
    if refused.field:  # the field's message, as a validation failure names it
        body["fields"] = {refused.field: {"code": refused.error, "message": refused.description}}
    if _wants_json():
        response = jsonify(body)
    else:
        response = make_response(render_template_string(_REFUSAL_PAGE, code=refused.code, message=refused.description))
    response.status_code = refused.code
    if refused.retry_after:
        response.headers["Retry-After"] = str(refused.retry_after)
    return response


# --- one image at a time (or a few): the per-process slots ---------------------------------

_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _semaphore(count: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        if count not in _slots:
            _slots[count] = threading.BoundedSemaphore(count)
        return _slots[count]


@contextmanager
def image_slot():
    """Hold one of the process's ``MALLOW_UPLOAD_CONCURRENCY`` image slots (memory is per
    process, so the slots are too); :class:`ImagesBusy` after ``MALLOW_UPLOAD_WAIT_SECONDS``."""
    config = current_app.config
    slots = _semaphore(max(1, int(config["MALLOW_UPLOAD_CONCURRENCY"])))
    if not slots.acquire(timeout=max(0.0, float(config["MALLOW_UPLOAD_WAIT_SECONDS"]))):
        raise ImagesBusy()
    try:
        yield
    finally:
        slots.release()
        _give_back_memory()


_trim: list = []  # [malloc_trim or None], looked up on first use


def _malloc_trim():
    if not _trim:
        try:
            trim = ctypes.CDLL("libc.so.6").malloc_trim
            trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
            trim = None
        _trim.append(trim)
    return _trim[0]


def _give_back_memory() -> None:
    """Return freed heap pages to the system. glibc keeps what a thread freed in that thread's
    arena, and raises its mmap threshold after a large free, so Pillow's bitmaps of a burst of
    uploads would otherwise stay in the process's RSS (the issue: 2.1 GB after eight uploads)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
