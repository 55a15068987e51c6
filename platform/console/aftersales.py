"""The merchant's after-sales queue (routes on the ``console`` blueprint, staff of the store):
the requests by state, approve / reject, and "goods received". All rules are in
:mod:`mallow.aftersales.service`; the state labels are the app-wide ``aftersale_status_label``
(:mod:`mallow.storefront.aftersales`)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from mallow.accounts.guards import staff_required
from mallow.aftersales import service
from mallow.aftersales.models import AFTERSALE_STATES, AfterSale
from mallow.db import db
from mallow.orders import access
from mallow.statemachine import InvalidTransition
from mallow.validation import ValidationFailed
from mallow.web.blueprints import console as bp


@bp.get("/aftersales")
@staff_required
def aftersales_list():
    status = request.args.get("status") or None
    if status and status not in AFTERSALE_STATES.states:
        abort(400)
    return render_template("console/aftersales.html", items=service.of_store(status), status=status)


@bp.post("/aftersales/<int:aftersale_id>/<any(approve, reject, received):action>")
@staff_required
def aftersale_action(aftersale_id, action):
    aftersale = db.get_or_404(AfterSale, aftersale_id)
    actor = access.staff_actor()
    try:
        if action == "received":
            service.confirm_return(aftersale, actor)
        else:
            service.decide(aftersale, actor, action == "approve", request.form.get("reason", ""))
        flash(_("Done."), "ok")
    except ValidationFailed as failed:
        flash(next(iter(failed.errors.values()))[1], "error")
    except service.AfterSaleProblem as problem:
        flash(str(problem.message), "error")
    except InvalidTransition:
        flash(_("This request was handled meanwhile: nothing was done."), "error")
    return redirect(url_for("console.aftersales_list")), 303
