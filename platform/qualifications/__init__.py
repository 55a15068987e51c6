"""Merchant qualifications (资质): what each category requires, submission, review, expiry.

* :mod:`.uscc`    Unified Social Credit Code check (GB 32100-2015)
* :mod:`.matrix`  categories → required permits, as platform data that admins edit
* :mod:`.models`  applications (one row per submission) and their permits
* :mod:`.service` submit / approve / reject / expire, with field-level errors
"""
