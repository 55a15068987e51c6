"""The storefront of one store (``/s/<slug>/`` or ``<slug>.<store domain>/``)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts import customers, sessions
from mallow.accounts.authenticate import login_limits
from mallow.accounts.guards import principal, shopper_required
from mallow.db import db
from mallow.qualifications import service
from mallow.tenants.context import current_store
from mallow.tenants.resolve import store_url_prefix
from mallow.validation import ValidationFailed
from mallow.web import render_form, safe_next

bp = Blueprint("storefront", __name__, url_prefix=store_url_prefix())


@bp.before_request
def only_open_stores():
    store = current_store()
    if store is not None and not store.is_open:
        return render_template("storefront/not_open.html"), 503, {"Retry-After": "86400"}


@bp.get("/")
def home():
    from mallow.builder.storefront import published_page_response

    built = published_page_response("home")  # the published home page, when the merchant made one
    if built is not None:
        return built
    store = current_store()
    approved = next((q for q in service.history(store.id) if q.status == "approved"), None)
    return render_template("storefront/home.html", licence=approved, **catalogue.home_context())


@bp.route("/register", methods=["GET", "POST"])
def register():
    if request.method == "POST":
        try:
            customer = customers.register(request.form)
        except ValidationFailed as failed:
            return render_form("storefront/register.html", errors=failed)
        sessions.login_browser(customer, current_store().id)
        shopping.signed_in(customer)
        db.session.commit()
        return redirect(url_for("storefront.account")), 303
    return render_form("storefront/register.html")


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    if request.method == "POST":
        customer = customers.authenticate(request.form.get("login", ""), request.form.get("password", ""))
        if customer is None:
            return render_form("storefront/login.html", errors=ValidationFailed(
                {"password": ("invalid", _("Wrong account or password."))}))
        sessions.login_browser(customer, current_store().id)
        shopping.signed_in(customer)
        db.session.commit()
        return redirect(safe_next(url_for("storefront.account"))), 303
    return render_form("storefront/login.html")


@bp.post("/logout")
def logout():
    sessions.logout_browser("shopper", current_store().id)
    db.session.commit()
    return redirect(url_for("storefront.home")), 303


@bp.get("/account")
@shopper_required
def account():
    return render_template("storefront/account.html", customer=principal("shopper"))


# Catalogue pages (category, search, product, images) join this blueprint.
from mallow.catalog import storefront_views as catalogue
# Cart, checkout and the shopper's orders join this blueprint (signed_in merges the guest cart).
from mallow.orders import storefront_views as shopping
