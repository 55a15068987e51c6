"""Analytics: storefront events recorded without slowing the request, and the merchant's 概况 dashboard.

* :mod:`.recording` and :mod:`.beacon`: events appended to the process's :mod:`.buffer`, written
  in batches by a thread (one multi-row INSERT per store);
* :mod:`.figures` and :mod:`.rfm`: the aggregations; :mod:`.service`: today live, the heavy
  figures cached per store and day by :mod:`.jobs` (the hourly rollup invalidates them);
* :mod:`.svg`: the dashboard's charts, drawn on the server.
"""

from __future__ import annotations


def init_app(app) -> None:
    """The buffer and its thread, the recording hooks, the beacon's script for the storefront's
    layout (``analytics_script()``: the theme's ``storefront/base.html`` draws it, so the kept
    copies of pages carry it too), the beacon's lane."""
    from mallow.analytics import beacon, buffer, recording

    buffer.install(app)
    recording.install(app)
    app.add_template_global(beacon.analytics_script)
    beacon.install_lane(app)  # the beacon answered before Flask
