"""Merchant pages on the platform host: sign-up, sign-in, the list of their stores."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from mallow.accounts import sessions
from mallow.accounts.authenticate import login_limits
from mallow.accounts.guards import merchant_required, principal
from mallow.accounts.signin import password_sign_in, sign_out
from mallow.db import db
from mallow.merchants.signup import signup_merchant
from mallow.qualifications.matrix import active_categories
from mallow.tenants.models import Store
from mallow.validation import ValidationFailed
from mallow.web import render_form

bp = Blueprint("merchant", __name__, url_prefix="/merchant")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if request.method == "POST":
        try:
            merchant, store = signup_merchant(request.form)
        except ValidationFailed as failed:
            return render_form("merchant/signup.html", errors=failed, categories=active_categories())
        sessions.login_browser(merchant)
        db.session.commit()
        return redirect(url_for("console.qualification", store_slug=store.slug)), 303
    return render_form("merchant/signup.html", categories=active_categories())


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    return password_sign_in("merchant", "auth/login.html", "merchant.home", area="merchant")


@bp.post("/logout")
def logout():
    return sign_out("merchant", "merchant.login")


@bp.get("/")
@merchant_required
def home():
    stores = (
        db.session.execute(db.select(Store).where(Store.owner_id == principal("merchant").id).order_by(Store.id))
        .scalars()
        .all()
    )
    if len(stores) == 1:
        return redirect(url_for("console.dashboard", store_slug=stores[0].slug))
    return render_template("merchant/home.html", stores=stores)
