"""Advertising-Law absolute terms (极限词) in merchant texts: flagged for review, high-risk
claims refused.

Modules: :mod:`~mallow.compliance.terms` (the term list, platform data), :mod:`~mallow.compliance.matcher`
(folding full-width, traditional, spaced and zero-width forms; longest match), :mod:`~mallow.compliance.findings`
(findings and their states: appeal and review), :mod:`~mallow.compliance.screening` (the entry point of
the save paths). Its pages are the platform admin's (:mod:`mallow.admin.compliance`) and the
merchant console's (:mod:`mallow.console.compliance`). See the "Compliance" section of
docs/architecture.md.

The save paths call one function::

    from mallow import compliance
    compliance.screen_product(product)              # raises ValidationFailed on a blocking term
    compliance.check_fields({"title": "…"}, category="food_prepackaged")   # texts without an object
"""

from __future__ import annotations

from mallow.compliance.screening import check_fields, screen, screen_product  # noqa: F401
