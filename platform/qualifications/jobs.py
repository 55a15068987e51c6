"""Daily, for every open or suspended store: apply lapsed and expiring documents
(``qualifications.sweep``; one store: ``qualifications.sweep_store``; see :mod:`.expiry`)."""

from mallow.db import db
from mallow.jobs import store_sweep
from mallow.qualifications import expiry


@store_sweep("qualifications", every_seconds=24 * 3600)
def sweep(store, now):
    result = expiry.check_store(store, expiry.local_today(now))
    db.session.commit()
    return result
