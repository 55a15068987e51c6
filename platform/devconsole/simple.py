"""The platform's package index (PEP 503 "simple" API) of **approved** uploaded plugins, so an
operator can ``pip install --index-url https://<platform>/simple/ mallow-foo==1.0``: a page of
projects, a page of files per project (each link with its ``#sha256=`` fragment, which pip
checks) and the files themselves. Releases under review, rejected or withdrawn are not listed
and not served."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, send_file, url_for

from mallow.developers import index
from mallow.developers.wheels import normalize

bp = Blueprint("simple_index", __name__, url_prefix="/simple")


@bp.get("/")
def projects():
    return render_template("devconsole/simple_projects.html", projects=sorted(index.approved_files()))


@bp.get("/<project>/")
def project_files(project):
    if normalize(project) != project:
        return redirect(url_for("simple_index.project_files", project=normalize(project)), 301)
    files = index.approved_files(project).get(project)
    if not files:
        abort(404)
    return render_template("devconsole/simple_files.html", project=project, files=files)


@bp.get("/<project>/<filename>")
def download(project, filename):
    approved = dict(index.approved_files(project).get(project, []))
    path = (index.root() / project / filename) if filename in approved else None
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/octet-stream", as_attachment=True, download_name=filename)
