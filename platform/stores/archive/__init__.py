"""A store as one portable, versioned archive: ``mallow store export`` / ``import`` and the
merchant's own export from the console.

* :mod:`.keys` — the operator's key (or the merchant's passphrase): each personal value sealed
  on its own with AES-256-GCM; the manifest keeps the key's fingerprint, never the key.
* :mod:`.tables` — which tables and columns (personal ones by Mallow's one rule: ``*_cipher``
  and ``*_digest`` columns, or ``info={"personal": True}``), rows as JSON, checksums.
* :mod:`.writer` — the archive: ``manifest.json`` (format, Mallow version, store and plugin
  revisions, row counts and checksums per table, every file's SHA-256, the key's fingerprint),
  its seal ``manifest.mac``, ``tables/<table>.jsonl``, ``platform/<table>.jsonl`` (the store's
  own platform rows) and ``files/`` (media library, product images, after-sales photos,
  qualification images).
* :mod:`.reader` — unpack and prove it whole (format, key, seal, checksums) before a row is read.
* :mod:`.importer` — restore it as a new store at the archive's revision, then migrate to the
  head; a failure leaves nothing behind.
* :mod:`.merchant_exports` — the console's export: a job with progress, a download for the
  store's owner that expires.
"""

from mallow.stores.archive.errors import ArchiveError, Incompatible, Tampered, WrongKey  # noqa: F401
