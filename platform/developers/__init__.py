"""Plugin developers on the platform: their accounts, the distributions they publish, the
platform's own package index of those distributions, and installing an approved version into the
plugin environment."""
