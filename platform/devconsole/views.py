"""The developer console (``/dev/…``): sign up, sign in and out, my plugins (review status of
every version with the reviewer's reason, how many stores enabled each), upload a wheel, a
release's page (status, reason, what changed since the last approved version) and API tokens
for ``mallow plugin publish``. Forms carry the CSRF token like every other form."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from mallow.accounts import sessions
from mallow.accounts.authenticate import login_limits
from mallow.accounts.guards import developer_required, principal
from mallow.accounts.signin import password_sign_in, sign_out
from mallow.accounts.models import AccountSession
from mallow.db import db
from mallow.developers import changes, names, publishing, stats, wheels
from mallow.developers.accounts import signup_developer
from mallow.plugins.manifests import localized, permission_label
from mallow.validation import ValidationFailed
from mallow.web import render_form

bp = Blueprint("devconsole", __name__, url_prefix="/dev")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if request.method == "POST":
        try:
            developer = signup_developer(request.form)
        except ValidationFailed as failed:
            return render_form("devconsole/signup.html", errors=failed)
        sessions.login_browser(developer)
        db.session.commit()
        return redirect(url_for("devconsole.home")), 303
    return render_form("devconsole/signup.html")


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    return password_sign_in("developer", "devconsole/login.html", "devconsole.home")


@bp.post("/logout")
def logout():
    return sign_out("developer", "devconsole.login")


def plugin_summaries(developer) -> list[dict]:
    """Each of the developer's plugins: its releases (newest first) and its store count."""
    releases = publishing.releases_of(developer)
    plugin_names = sorted(set(names.names_of(developer)) | {r.name for r in releases})
    counts = stats.store_counts(plugin_names)
    return [
        {
            "name": name,
            "title": localized(next((r.manifest.get("title") for r in releases if r.name == name), "")) or name,
            "releases": [r for r in releases if r.name == name],
            "stores": counts.get(name, 0),
        }
        for name in plugin_names
    ]


@bp.get("/")
@developer_required
def home():
    return render_template("devconsole/home.html", plugins=plugin_summaries(principal("developer")))


@bp.route("/upload", methods=["GET", "POST"])
@developer_required
def upload():
    limit_mb = wheels.MAX_UPLOAD // (1024 * 1024)
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read(wheels.MAX_UPLOAD + 1) if upload else b""
        try:
            release = publishing.publish(principal("developer"), upload.filename if upload else "", data)
        except ValidationFailed as failed:
            return render_form("devconsole/upload.html", errors=failed, limit_mb=limit_mb)
        return redirect(url_for("devconsole.release", release_id=release.id)), 303
    return render_form("devconsole/upload.html", limit_mb=limit_mb)


@bp.get("/releases/<int:release_id>")
@developer_required
def release(release_id):
    found = publishing.release_of(principal("developer"), release_id)
    if found is None:
        abort(404)
    return render_template(
        "devconsole/release.html",
        release=found,
        changes=changes.since_approved(found),
        localized=localized,
        permission_label=permission_label,
    )


@bp.route("/tokens", methods=["GET", "POST"])
@developer_required
def tokens():
    developer, secret = principal("developer"), None
    if request.method == "POST":
        secret = sessions.issue(developer, "token")
        db.session.commit()
    rows = db.session.execute(
        db.select(AccountSession)
        .where(AccountSession.kind == "developer", AccountSession.account_id == developer.id)
        .where(AccountSession.via == "token")
        .order_by(AccountSession.id.desc())
    ).scalars()
    return render_template("devconsole/tokens.html", secret=secret, tokens=list(rows))


@bp.post("/tokens/<int:token_id>/revoke")
@developer_required
def revoke_token(token_id):
    developer = principal("developer")
    db.session.execute(
        db.delete(AccountSession).where(
            AccountSession.id == token_id,
            AccountSession.kind == "developer",
            AccountSession.account_id == developer.id,
            AccountSession.via == "token",
        )
    )
    db.session.commit()
    return redirect(url_for("devconsole.tokens")), 303
