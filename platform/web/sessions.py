"""Flask's signed cookie session, without its fixed cost on requests that carry no session.

Flask's ``SecureCookieSessionInterface`` builds a new signing serializer on every request, and
reads seven cookie settings after every response, before it knows whether there is a cookie to
read or write. Most dynamic requests have none: API calls with a bearer token, anonymous
visitors. This interface answers the same sessions and sets the same cookies; it only skips that
work when there is nothing to do, and keeps one serializer per secret key, whose keys are derived
once (:mod:`mallow.security.signing`).
"""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

from mallow.security.signing import KeptKeySerializer


class CookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self):
        self._serializer = None  # (key material, serializer): rebuilt when the secret key changes

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        material = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = self._serializer
        if kept is None or kept[0] != material:
            secret, fallbacks = material
            serializer = KeptKeySerializer(  # Flask's, with its keys derived once (mallow.security.signing)
                [*fallbacks, secret],  # the current key last, as Flask gives them
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
            )
            kept = self._serializer = (material, serializer)
        return kept[1]

    def open_session(self, app, request):
        cookies, name = request.cookies, self.get_cookie_name(app)
        if name not in cookies or not cookies[name]:  # (a miss asked with .get() raises inside werkzeug)
            # no cookie: an empty session (none without a secret key, as Flask answers)
            return self.session_class() if app.secret_key else None
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if not session and not session.modified:  # nothing to set and nothing to delete
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
