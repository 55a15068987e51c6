"""The platform's own pages: landing page and language switch."""

from flask import Blueprint, redirect, render_template

from mallow.web import safe_next

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/lang/<code>")
def switch_language(code):
    response = redirect(safe_next("/"))
    if code in ("zh_CN", "en"):
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax")
    return response


@bp.get("/healthz")
def health():
    return {"ok": True}
