"""What an uploaded distribution must be, read without running any of it.

A wheel is a zip archive: the plugin's package, and a ``<dist>-<version>.dist-info`` folder with
``METADATA``, ``entry_points.txt`` and ``RECORD`` (every file with its SHA-256). An upload is
accepted only if it is a pure-Python wheel holding exactly one package ``mallow_<name>`` and its
dist-info (nothing else may land in the plugin environment: no ``sitecustomize.py``, no other
top-level package, no ``.data`` scripts), names exactly one ``mallow.plugins`` entry point
``<name> = mallow_<name>``, carries a readable ``plugin.json`` for the same name and version, and
every file's hash matches its RECORD line. The review is then bound to those hashes
(:attr:`Wheel.files`, the package's RECORD lines: ``{"mallow_<name>/<path>": "sha256=…"}``, the
form :mod:`mallow.plugin_host.fingerprint` computes for an installed plugin).
"""

from __future__ import annotations

import configparser
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from email.parser import HeaderParser

from flask_babel import gettext as _

from mallow.plugin_host.discovery import GROUP, NAME_RE, PACKAGE_PREFIX, manifest_of, wrongly_shaped
from mallow.plugin_host.fingerprint import file_hash, package_files
from mallow.validation import ValidationFailed

#: the largest distribution a developer may upload (bytes)
MAX_UPLOAD = 10 * 1024 * 1024
#: what a wheel may unpack to (a zip bomb is refused before anything is extracted)
MAX_UNPACKED = 50 * 1024 * 1024
MAX_FILES = 2000
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?$")
#: ``<dist>-<version>(-<build>)?-<python>-<abi>-<platform>.whl``; only pure-Python wheels
FILENAME_RE = re.compile(
    r"^(?P<dist>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.+!]+)(-[0-9][A-Za-z0-9_.]*)?-(?P<tags>[A-Za-z0-9_.]+-none-any)\.whl$"
)


def normalize(project: str) -> str:
    """A project name as PEP 503 compares it: ``Mallow_Foo.Bar`` → ``mallow-foo-bar``."""
    return re.sub(r"[-_.]+", "-", project).lower()


@dataclass(frozen=True)
class Wheel:
    name: str  # the plugin's name (its entry point)
    version: str
    package: str  # mallow_<name>
    project: str  # normalized distribution name (mallow-<name>)
    filename: str
    manifest: dict
    #: ``{"mallow_<name>/<path>": "sha256=…"}``: the code under review
    files: dict[str, str] = field(default_factory=dict)
    #: ``{path inside the archive: "sha256=…"}``: every file the installer writes (RECORD's form)
    record: dict[str, str] = field(default_factory=dict)


def _refuse(code: str, message: str) -> ValidationFailed:
    return ValidationFailed({"file": (code, message)})


def inspect(filename: str, data: bytes) -> Wheel:
    """Validate an uploaded wheel; raises :class:`ValidationFailed` (field ``file``) naming the
    first problem. Reads the archive only: nothing of it is imported or extracted."""
    filename = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if not data:
        raise _refuse("required", _("Choose a wheel (.whl) to upload."))
    if len(data) > MAX_UPLOAD:
        raise _refuse("too_large", _("The file is larger than %(mb)d MB.", mb=MAX_UPLOAD // (1024 * 1024)))
    match = FILENAME_RE.match(filename)
    if not filename.endswith(".whl"):
        raise _refuse(
            "not_a_wheel", _("Upload a built wheel (.whl): run `mallow plugin publish` in the plugin's folder.")
        )
    if match is None:
        raise _refuse("not_pure_python", _("Upload a pure-Python wheel (…-py3-none-any.whl) with a valid file name."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _refuse("not_a_wheel", _("This file is not a wheel (not a zip archive).")) from None
    contents = _read_entries(archive, entries)
    dist_info = _dist_info(contents)
    metadata = HeaderParser().parsestr(contents[f"{dist_info}/METADATA"].decode("utf-8", "replace"))
    project, version = normalize(metadata.get("Name", "")), (metadata.get("Version") or "").strip()
    name, package = _entry_point(contents.get(f"{dist_info}/entry_points.txt"))
    if project != normalize(package):
        raise _refuse(
            "bad_package",
            _("The distribution must be named %(dist)s, like its package.", dist=package.replace("_", "-")),
        )
    if not VERSION_RE.match(version) or len(version) > 40:
        raise _refuse(
            "bad_version", _("The version %(version)s is not a plain release number (e.g. 1.0.2).", version=version)
        )
    if normalize(match.group("dist")) != project or match.group("version") != version:
        raise _refuse("bad_filename", _("The file name does not match the wheel's name and version."))
    for path in contents:
        if not (path.startswith(package + "/") or path.startswith(dist_info + "/")):
            raise _refuse(
                "foreign_files",
                _(
                    "The wheel may hold only the package %(package)s and its metadata, not %(path)s.",
                    package=package,
                    path=path,
                ),
            )
    record = _verified_record(contents, dist_info)
    manifest = _manifest(contents.get(f"{package}/plugin.json"), name, version)
    return Wheel(name, version, package, project, filename, manifest, package_files(record, package), record)


def _read_entries(archive: zipfile.ZipFile, entries) -> dict[str, bytes]:
    if len(entries) > MAX_FILES or sum(entry.file_size for entry in entries) > MAX_UNPACKED:
        raise _refuse("too_large", _("The wheel unpacks to too many files or bytes."))
    contents = {}
    for entry in entries:
        path = entry.filename
        if entry.is_dir():
            continue
        parts = path.split("/")
        if path.startswith("/") or "\\" in path or ".." in parts or ":" in parts[0] or "" in parts:
            raise _refuse("unsafe_path", _("The wheel holds a file outside its folders: %(path)s.", path=path))
        try:
            contents[path] = archive.read(entry)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
            raise _refuse("not_a_wheel", _("The wheel is damaged: %(path)s cannot be read.", path=path)) from None
    return contents


def _dist_info(contents: dict[str, bytes]) -> str:
    folders = {path.split("/", 1)[0] for path in contents if path.split("/", 1)[0].endswith(".dist-info")}
    if len(folders) != 1:
        raise _refuse("not_a_wheel", _("A wheel has exactly one .dist-info folder."))
    folder = folders.pop()
    for required in ("METADATA", "RECORD"):
        if f"{folder}/{required}" not in contents:
            raise _refuse("not_a_wheel", _("The wheel has no %(file)s.", file=required))
    return folder


def _entry_point(text: bytes | None) -> tuple[str, str]:
    """``(plugin name, package)`` of the one ``mallow.plugins`` entry point."""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # entry point names keep their case (then must be lower-case)
    try:
        parser.read_string((text or b"").decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError):
        raise _refuse("no_entry_point", _("entry_points.txt cannot be read.")) from None
    points = dict(parser.items(GROUP)) if parser.has_section(GROUP) else {}
    if len(points) != 1:
        raise _refuse(
            "no_entry_point", _("The wheel must declare exactly one entry point in the group %(group)s.", group=GROUP)
        )
    ((name, value),) = points.items()
    package = value.strip()
    if not NAME_RE.match(name):
        raise _refuse(
            "bad_name", _("The plugin name %(name)s is not 2–40 lower-case letters, digits and _.", name=name)
        )
    if package != PACKAGE_PREFIX + name:
        raise _refuse(
            "bad_package", _("The entry point must name the package %(package)s.", package=PACKAGE_PREFIX + name)
        )
    return name, package


def _verified_record(contents: dict[str, bytes], dist_info: str) -> dict[str, str]:
    """RECORD's hashes, each checked against the file; every file must be listed."""
    record = {}
    for line in contents[f"{dist_info}/RECORD"].decode("utf-8", "replace").splitlines():
        path, _sep, rest = line.partition(",")
        if path:
            record[path] = rest.rsplit(",", 1)[0]
    for path, data in contents.items():
        if path == f"{dist_info}/RECORD":
            continue
        if record.get(path) != file_hash(data):
            raise _refuse("bad_record", _("The hash of %(path)s does not match the wheel's RECORD.", path=path))
    listed = {path for path in record if path != f"{dist_info}/RECORD"}
    if listed - set(contents):
        raise _refuse("bad_record", _("RECORD lists files the wheel does not hold."))
    return {path: record[path] for path in sorted(listed)}


def _manifest(data: bytes | None, name: str, version: str) -> dict:
    if data is None:
        raise _refuse("no_manifest", _("The package has no plugin.json beside its __init__.py."))
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _refuse("bad_manifest", _("plugin.json is not valid JSON: %(error)s", error=str(error)[:200])) from None
    if not isinstance(manifest, dict):
        raise _refuse("bad_manifest", _("plugin.json must hold a JSON object."))
    if manifest.get("name") != name:
        raise _refuse("bad_manifest", _("plugin.json must name the plugin %(name)s.", name=name))
    if str(manifest.get("version", "")) != version:
        raise _refuse(
            "bad_manifest", _("plugin.json's version must be the wheel's version, %(version)s.", version=version)
        )
    wrong = wrongly_shaped(manifest)
    if wrong is not None:
        raise _refuse("bad_manifest", _("plugin.json's %(key)s has the wrong type.", key=wrong))
    return manifest_of({**manifest, "version": version}, PACKAGE_PREFIX + name).as_dict()
