"""Tenancy: stores, their own schemas (or files), and resolving the store of a request.

* :mod:`.models`       the ``stores`` platform table and its state machine
* :mod:`.slugs`        what a store slug may be
* :mod:`.engines`      one engine per store: PostgreSQL schema translation / SQLite file attach
* :mod:`.context`      the active store of this app context; ``store_context()`` for jobs and CLI
* :mod:`.resolve`      subdomain → path rewrite and the ``/s/<slug>/`` URL processor (one place)
* :mod:`.provisioning` create a store's schema at the migration head; drop it
* :mod:`.store_sql`    raw SQL on the active store's own tables (the SDK's ``store_sql``/``store_table``)
"""
