"""Stores as a whole, as the platform runs them: suspend, reopen, close (:mod:`.lifecycle`).

The store row, its schema and the active store of a request are the tenants foundation's
(:mod:`mallow.tenants`); what happens to a store over its life, which needs to know about its
qualifications, is this domain's.
"""
