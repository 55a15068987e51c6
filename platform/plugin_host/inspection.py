"""A plugin's code read before it is imported: what a reviewer must see, and what is refused.

Python plugins run inside Mallow's process, so nothing here is a sandbox: the point is that
review is meaningful. :func:`scan` parses (never imports) every ``.py`` file of a plugin's
package and reports

* **blocking** findings, which the loader refuses and the review page shows first: imports of
  Mallow beyond its SDK (``mallow.db``, ``mallow.tenants.context``…, which reach other stores,
  decryption and platform secrets), of another plugin's package, of ``mallow.sdk.testing``
  outside the plugin's tests, imports by a name the reviewer cannot read (``import_module(x)``),
  a file that does not parse and compiled code (``.so``, a stray ``.pyc``) nobody can review;
* **notable** findings, shown to the reviewer beside the code they point at: database drivers,
  processes, native code, sockets, pickle, the environment, the platform's configuration
  (``current_app.config``, ``config`` in templates), files opened by path, ``eval``/``exec``
  and introspection that walks out of the SDK (``__globals__``, ``sys.modules``).

A notable finding is not wrong in itself (the bundled flash sale reads its Redis URL from
``current_app.config``); it tells the reviewer where to look.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l

SDK = "mallow.sdk"
TESTING = "mallow.sdk.testing"
PLUGIN_PREFIX = "mallow_"
#: compiled code in a package: nothing a reviewer can read
COMPILED = (".so", ".pyd", ".dylib", ".dll")
TEMPLATES = (".html", ".htm", ".jinja", ".jinja2", ".j2", ".txt", ".xml")
#: Flask puts the app's ``config`` (SECRET_KEY included) into every template's globals
TEMPLATE_CONFIG = re.compile(r"(\{\{|\{%)[^}]*\bconfig\b\s*[.\[|]")

#: module (or its parent) imported → (code, what the reviewer is told)
NOTABLE_MODULES = {
    "sqlite3": ("database_driver", _l("opens database connections of its own, around the store session")),
    "psycopg": ("database_driver", _l("opens database connections of its own, around the store session")),
    "psycopg2": ("database_driver", _l("opens database connections of its own, around the store session")),
    "subprocess": ("process", _l("runs other programs")),
    "multiprocessing": ("process", _l("runs other programs")),
    "ctypes": ("native", _l("calls native code")),
    "cffi": ("native", _l("calls native code")),
    "socket": ("network", _l("opens network connections itself")),
    "pickle": ("pickle", _l("unpickles data, which can run code")),
    "marshal": ("pickle", _l("unpickles data, which can run code")),
    "shelve": ("pickle", _l("unpickles data, which can run code")),
    "gc": ("introspection", _l("walks the interpreter's objects, around the SDK")),
    "inspect": ("introspection", _l("walks the interpreter's objects, around the SDK")),
}
#: ``module.attribute`` used (attribute access or ``from module import attribute``)
NOTABLE_ATTRIBUTES = {
    ("os", "system"): ("process", _l("runs other programs")),
    ("os", "popen"): ("process", _l("runs other programs")),
    ("os", "execv"): ("process", _l("runs other programs")),
    ("os", "execvp"): ("process", _l("runs other programs")),
    ("os", "spawnv"): ("process", _l("runs other programs")),
    ("os", "fork"): ("process", _l("runs other programs")),
    ("os", "environ"): ("environment", _l("reads the process environment (where secrets live)")),
    ("os", "getenv"): ("environment", _l("reads the process environment (where secrets live)")),
    ("os", "open"): ("file", _l("opens files by path")),
    ("io", "open"): ("file", _l("opens files by path")),
    ("sqlalchemy", "create_engine"): (
        "database_driver",
        _l("opens database connections of its own, around the store session"),
    ),
    ("sys", "modules"): ("introspection", _l("reaches loaded modules without importing them")),
    ("sys", "_getframe"): ("introspection", _l("walks the interpreter's objects, around the SDK")),
}
#: a bare name called: ``open(…)``, ``eval(…)``
NOTABLE_CALLS = {
    "open": ("file", _l("opens files by path")),
    "eval": ("eval", _l("runs code built at run time")),
    "exec": ("eval", _l("runs code built at run time")),
    "compile": ("eval", _l("runs code built at run time")),
    "getenv": ("environment", _l("reads the process environment (where secrets live)")),
    "create_engine": ("database_driver", _l("opens database connections of its own, around the store session")),
}
#: attributes that lead from any function or object to everything else in the process
ESCAPE_ATTRIBUTES = {"__globals__", "__subclasses__", "__builtins__", "__code__", "__closure__", "f_globals", "f_back"}
DYNAMIC_IMPORTS = {"import_module", "__import__"}


@dataclass(frozen=True)
class Finding:
    """One place in a plugin's code a reviewer must see; ``blocking`` ones keep it from loading."""

    path: str  # relative to the package folder, with /
    line: int
    code: str
    message: str  # lazily translated: str() renders it in the reader's language
    blocking: bool

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "code": self.code,
            "message": str(self.message),
            "blocking": self.blocking,
        }


def scan(folder: Path, package: str | None = None) -> list[Finding]:
    """Every finding in the plugin package at ``folder``, blocking first.

    ``package`` is the plugin's import name (``mallow_<name>``); by default the folder's name, or
    ``mallow_`` + the manifest's name for a source folder named otherwise (``plugins/groupbuy``)."""
    folder = Path(folder)
    package = package or _package_of(folder)
    findings: list[Finding] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = path.relative_to(folder).as_posix()
        if path.suffix == ".py":
            findings.extend(_scan_source(path, relative, package))
        elif path.suffix in COMPILED or path.suffix == ".pyc":
            findings.append(Finding(relative, 0, "compiled", _l("Compiled code can't be reviewed."), True))
        elif path.suffix in TEMPLATES:
            findings.extend(_scan_template(path, relative))
    return sorted(findings, key=lambda f: (not f.blocking, f.path, f.line, f.code))


def _package_of(folder: Path) -> str:
    if folder.name.startswith(PLUGIN_PREFIX):
        return folder.name
    try:
        name = json.loads((folder / "plugin.json").read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        name = None
    return PLUGIN_PREFIX + (name if isinstance(name, str) and name else folder.name)


def blocking(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.blocking]


def _scan_source(path: Path, relative: str, package: str) -> list[Finding]:
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=relative)
    except (SyntaxError, ValueError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None) or 0
        return [Finding(relative, line, "syntax", _l("This file does not parse, so it can't be reviewed."), True)]
    visitor = _Visitor(relative, package, _is_test_file(relative))
    visitor.visit(tree)
    return visitor.findings


def _scan_template(path: Path, relative: str) -> list[Finding]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [
        Finding(relative, number, "platform_config", _l("reads the platform's configuration (its secrets)"), False)
        for number, text in enumerate(lines, 1)
        if TEMPLATE_CONFIG.search(text)
    ]


def _is_test_file(relative: str) -> bool:
    parts = relative.split("/")
    name = parts[-1]
    return "tests" in parts[:-1] or name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


class _Visitor(ast.NodeVisitor):
    def __init__(self, relative: str, package: str, is_test: bool) -> None:
        self.relative = relative
        self.package = package
        self.is_test = is_test
        self.findings: list[Finding] = []
        #: local name → module it stands for (``import os as o``, ``from os import environ``)
        self.aliases: dict[str, str] = {}

    def add(self, node: ast.AST, code: str, message: object, blocking: bool = False) -> None:
        self.findings.append(Finding(self.relative, getattr(node, "lineno", 0), code, message, blocking))  # type: ignore[arg-type]

    # imports -------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.check_module(node, alias.name)
            self.aliases[(alias.asname or alias.name).split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: inside the plugin's own package
            return
        module = node.module or ""
        if module == "mallow":  # from mallow import db / sdk
            for alias in node.names:
                self.check_module(node, f"mallow.{alias.name}" if alias.name != "*" else "mallow")
        else:
            self.check_module(node, module)
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
            notable = NOTABLE_ATTRIBUTES.get((module, alias.name))
            if notable:
                self.add(node, *notable)

    def check_module(self, node: ast.AST, module: str) -> None:
        top = module.split(".")[0]
        if top == "mallow":
            if module == TESTING or module.startswith(TESTING + "."):
                if self.is_test:
                    return
                self.add(
                    node,
                    "import_core",
                    _l("imports the test kit outside the plugin's tests: %(module)s", module=module),
                    True,
                )
            elif module != SDK and not module.startswith(SDK + "."):
                self.add(
                    node,
                    "import_core",
                    _l("imports Mallow beyond its SDK: %(module)s (only mallow.sdk is allowed)", module=module),
                    True,
                )
        elif top.startswith(PLUGIN_PREFIX) and top != self.package:
            self.add(node, "import_plugin", _l("imports another plugin's package: %(module)s", module=module), True)
        elif top in NOTABLE_MODULES:
            self.add(node, *NOTABLE_MODULES[top])

    # calls and attributes ------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        name = _called_name(node.func)
        if name in DYNAMIC_IMPORTS:
            argument = node.args[0] if node.args else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                if not argument.value.startswith("."):
                    self.check_module(node, argument.value)
            else:
                self.add(node, "import_dynamic", _l("imports a module whose name can't be read in the code"), True)
        elif isinstance(node.func, ast.Name) and node.func.id in NOTABLE_CALLS:
            origin = self.aliases.get(node.func.id, node.func.id).rpartition(".")[0]
            if origin in ("", "builtins", "os", "io", "sqlalchemy"):  # not a local function of that name
                self.add(node, *NOTABLE_CALLS[node.func.id])
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in ESCAPE_ATTRIBUTES:
            self.add(node, "introspection", _l("walks the interpreter's objects, around the SDK"))
        elif isinstance(node.value, ast.Name):
            module = self.aliases.get(node.value.id, node.value.id)
            notable = NOTABLE_ATTRIBUTES.get((module, node.attr))
            if notable:
                self.add(node, *notable)
            elif module in ("flask.current_app", "current_app") and node.attr == "config":
                key = getattr(node, "_mallow_key", None)
                if key:
                    self.add(node, "platform_config", _l("reads the platform's configuration: %(key)s", key=key))
                else:
                    self.add(node, "platform_config", _l("reads the platform's configuration (its secrets)"))
            elif module in ("flask.current_app", "current_app") and node.attr == "extensions":
                self.check_extension(node)
        self.generic_visit(node)

    def check_extension(self, node: ast.Attribute) -> None:
        """``current_app.extensions`` holds the platform's own objects (its database among them):
        a plugin's own keys (``"mallow_flashsale.…"``) are fine, anything else is shown."""
        key = getattr(node, "_mallow_key", None)
        if key is None or not key.startswith(self.package + "."):
            self.add(node, "platform_state", _l("reaches the platform's own objects in current_app.extensions"))

    def visit_Subscript(self, node: ast.Subscript) -> None:
        _note_key(node.value, node.slice)
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            _note_key(node.func.value, node.args[0])  # extensions.get("…") / setdefault("…")
        super().generic_visit(node)


def _note_key(container: ast.AST, key: ast.AST) -> None:
    if isinstance(container, ast.Attribute) and isinstance(key, ast.Constant) and isinstance(key.value, str):
        container._mallow_key = key.value  # type: ignore[attr-defined]


def _called_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None
