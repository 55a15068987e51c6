"""Why an archive is refused: every refusal says what is wrong in words an operator can act on."""

from __future__ import annotations


class ArchiveError(Exception):
    """An export or import that cannot go on; nothing was written (or all of it was removed)."""


class WrongKey(ArchiveError):
    """The key is missing, malformed or not the one the archive was sealed with."""


class Tampered(ArchiveError):
    """A file of the archive is not what its manifest says (checksum, seal, unknown file)."""


class Incompatible(ArchiveError):
    """The archive's format, store revision or plugins do not fit this platform."""
