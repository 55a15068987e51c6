"""Every hook is documented (docs/plugins.md has a section for it)."""

from pathlib import Path

from mallow.plugins import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def test_every_hookspec_has_a_documented_section():
    text = DOCS.read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("mallow_")]
    assert hooks, "no hooks found"
    missing = [name for name in hooks if f"### `{name}(" not in text]
    assert not missing, f"document these hooks in docs/plugins.md: {missing}"


def test_every_hookspec_has_a_docstring_and_the_mallow_prefix():
    for name in dir(hookspecs):
        spec = getattr(hookspecs, name)
        if callable(spec) and hasattr(spec, "mallow_spec"):
            assert name.startswith("mallow_") and spec.__doc__, name


def test_every_documented_hook_exists_with_the_documented_arguments():
    import inspect
    import re

    documented = dict(re.findall(r"^### `(mallow_\w+)\(([^)]*)\)`", DOCS.read_text(), flags=re.M))
    assert documented, "no hook sections found"
    for name, arguments in documented.items():
        spec = getattr(hookspecs, name, None)
        assert spec is not None, f"docs/plugins.md documents {name}, which is not a hook"
        expected = list(inspect.signature(spec).parameters)
        assert [a.strip() for a in arguments.split(",") if a.strip()] == expected, name
