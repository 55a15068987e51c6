"""Daily re-check of approved qualifications (see ``service.expire_lapsed``)."""
from mallow.jobs import job, periodic
from mallow.qualifications import service


@job("qualifications.expire_lapsed")
def expire_lapsed_job(today: str | None = None):
    from datetime import date

    return service.expire_lapsed(date.fromisoformat(today) if today else None)


periodic("qualifications.expire_lapsed", 24 * 3600)
