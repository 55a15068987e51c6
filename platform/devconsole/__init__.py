"""The developer console (``/dev``): a plugin developer's pages and API (publish a distribution,
follow its review, see how many stores use it)."""
