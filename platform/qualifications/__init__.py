"""Merchant qualifications (资质): what each category requires, submission, review, expiry.

* :mod:`.uscc`    Unified Social Credit Code check (GB 32100-2015)
* :mod:`.matrix`  categories → required permits, as platform data that admins edit
* :mod:`.models`  applications (one row per submission) and their permits
* :mod:`.service` submit / approve / reject / re-verify, with field-level errors
* :mod:`.expiry`  lapsed and expiring documents: store suspended, products held, notices
* :mod:`.holds`   the products a lapsed permit took off the shelf (store table)
* :mod:`.selling` may the store sell now: the one rule of every shelf write and of checkout
"""
