"""Package list for the mapped folders (pyproject.toml holds everything else).

setuptools cannot rename folders through `packages.find`, so the import names are derived
here: `platform/x/` is installed as `mallow.x`, `plugins/NAME/` as `mallow_NAME`, `themes/` as
`mallow_themes`.
"""
from setuptools import find_packages, setup


def mapped(folder: str, name: str) -> list[str]:
    return [name] + [f"{name}.{sub}" for sub in find_packages(folder)]


packages = mapped("platform", "mallow") + mapped("themes", "mallow_themes")
for plugin in ("groupbuy", "flashsale", "distribution"):
    packages += mapped(f"plugins/{plugin}", f"mallow_{plugin}")

setup(packages=packages)
