"""Where label documents live: a small storage interface, a local-directory default, content checksums.

A document is stored under a key such as ``ten_…/shp_…/lbl_….pdf`` and read back by that key. Every
document has a ``sha256:<hex>`` checksum recorded beside it in the database; reads verify it, so a
truncated or tampered file is an error rather than a label printed wrong. Another backend (S3, GCS)
implements the same three methods and is chosen by the ``LABEL_STORAGE`` setting.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gateway.kernel import config

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class StorageError(Exception):
    """A document could not be stored or read."""


class DocumentMissing(StorageError):
    """No document under this key."""


class ChecksumMismatch(StorageError):
    """The stored bytes are not the ones recorded: corrupt or tampered."""


def checksum(data: bytes) -> str:
    """Return the content checksum recorded for a document."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Stored:
    key: str
    checksum: str
    size: int


class Storage(Protocol):
    """What the label service needs from a document store."""

    def put(self, key: str, data: bytes) -> Stored: ...

    def get(self, key: str, expected_checksum: str | None = None) -> bytes: ...

    def delete(self, key: str) -> None: ...


def _check_key(key: str) -> str:
    if not _KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise StorageError(f"invalid storage key {key!r}")
    return key


class LocalStorage:
    """Documents as files under a root directory, written atomically (temp file + rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / _check_key(key)).resolve()
        if self.root not in path.parents:
            raise StorageError(f"storage key {key!r} escapes the storage root")
        return path

    def put(self, key: str, data: bytes) -> Stored:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Stored(key=key, checksum=checksum(data), size=len(data))

    def get(self, key: str, expected_checksum: str | None = None) -> bytes:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DocumentMissing(f"no document {key!r}") from None
        if expected_checksum is not None and checksum(data) != expected_checksum:
            raise ChecksumMismatch(f"document {key!r} does not match its recorded checksum")
        return data

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


_BACKENDS: dict[str, Any] = {"local": LocalStorage}


def from_settings(settings: Mapping[str, Any]) -> Storage:
    """Build the configured storage: ``LABEL_STORAGE`` under ``LABEL_STORAGE_DIR`` (else DATA_DIR/labels).

    ``settings`` may be partial (tests, tools): missing settings take their declared defaults.
    """
    kind = config.read(settings, "LABEL_STORAGE")
    if kind not in _BACKENDS:
        raise StorageError(f"unknown LABEL_STORAGE {kind!r}; known: {sorted(_BACKENDS)}")
    root = config.read(settings, "LABEL_STORAGE_DIR") or os.path.join(
        config.read(settings, "DATA_DIR"), "labels"
    )
    return _BACKENDS[kind](root)
