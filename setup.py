"""Package list for the mapped folders (pyproject.toml holds everything else).

setuptools cannot rename folders through `packages.find`, so the import names are derived
here: `platform/x/` (code or data) is installed as `mallow.x`, `plugins/NAME/` as `mallow_NAME`, `themes/` as
`mallow_themes`.
"""

from setuptools import find_namespace_packages, setup


def mapped(folder: str, name: str) -> list[str]:
    # namespace discovery also lists data folders (templates, static, migrations), so their
    # files ship as package data of the folder they are in
    subs = find_namespace_packages(folder, exclude=["*__pycache__*"])
    return [name] + [f"{name}.{sub}" for sub in subs]


packages = mapped("platform", "mallow") + mapped("themes", "mallow_themes")
for plugin in ("groupbuy", "flashsale", "distribution"):
    packages += mapped(f"plugins/{plugin}", f"mallow_{plugin}")

setup(packages=packages)
