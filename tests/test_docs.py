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


def test_every_hook_section_states_its_budget_as_the_guard_applies_it():
    """Each hook's section ends with its time budget, the one in mallow.plugins.budgets."""
    import re

    from mallow.plugins.budgets import BUDGETS

    text = DOCS.read_text()
    sections = dict(re.findall(r"^### `(mallow_\w+)\([^)]*\)`\n(.*?)(?=^### |\Z)", text, flags=re.M | re.S))
    for name in (n for n in dir(hookspecs) if n.startswith("mallow_")):
        found = re.search(r"\*Budget: (\d+) ms per call|\*Budget: none\*", sections[name])
        assert found, f"docs/plugins.md: the section of {name} does not state its budget"
        documented = int(found.group(1)) if found.group(1) else None
        assert documented == BUDGETS.get(name, "missing from BUDGETS"), name


def test_the_budget_table_matches_the_guard():
    import re

    from mallow.plugins.budgets import BUDGETS

    text = DOCS.read_text()
    table = text[text.index("| Hook |", text.index("### Budgets")) :]
    table = table[: table.index("\n\n")]
    rows = table.splitlines()[2:]
    assert len(rows) >= 8, "the budget table of docs/plugins.md is gone"
    for row in rows:
        hooks_cell, budget = row.split("|")[1:3]
        names = re.findall(r"`(mallow_\w+|_\w+)`", hooks_cell)
        prefix = ""
        for name in names:  # "`mallow_order_paid`, `_cancelled`": the rest share the first one's prefix
            full = name if name.startswith("mallow_") else prefix + name
            prefix = prefix or full.rsplit("_", 1)[0]
            expected = BUDGETS[full]
            assert budget.strip() == (f"{expected} ms" if expected is not None else "none"), (full, budget)
