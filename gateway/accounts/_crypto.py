"""Envelope encryption of account secrets with ``cryptography``'s Fernet.

Each row gets its own random data key, which encrypts the secrets; the data key is wrapped with a
``MultiFernet`` of the key-encryption keys in CREDENTIALS_KEYS (the first one wraps, all unwrap).
Rotation re-wraps the data keys with the first key: the secrets' ciphertext itself is untouched.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.kernel import config
from gateway.kernel.errors import Problem


def _as_fernet_key(raw: str) -> bytes:
    """A Fernet key as given, or one derived from any other secret string (SHA-256)."""
    try:
        key = raw.encode()
        Fernet(key)
        return key
    except ValueError:
        return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


def key_id(key: bytes) -> str:
    """A short public name of a key (never the key): the first hex digits of its SHA-256."""
    return hashlib.sha256(b"handoff-credentials-key:" + key).hexdigest()[:12]


def keys(settings: Mapping[str, Any]) -> list[bytes]:
    """The key-encryption keys, first one current; in dev/test without any, one derived for the data dir."""
    raw = str(config.read(settings, "CREDENTIALS_KEYS") or "")
    found = [_as_fernet_key(k.strip()) for k in raw.split(",") if k.strip()]
    if found:
        return found
    if str(config.read(settings, "ENV")).lower() in ("dev", "development", "test"):
        data_dir = str(Path(str(config.read(settings, "DATA_DIR"))).resolve())
        return [_as_fernet_key("handoff-dev-credentials:" + data_dir)]
    raise Problem(
        "credentials-key-missing",
        "No credentials encryption key is configured (GATEWAY_CREDENTIALS_KEYS), so carrier account "
        "secrets cannot be stored or read. Ask the operator to set one.",
    )


def seal(settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> tuple[str, str, str]:
    """Encrypt secrets: (ciphertext, wrapped data key, id of the wrapping key)."""
    kek = keys(settings)
    data_key = Fernet.generate_key()
    ciphertext = Fernet(data_key).encrypt(json.dumps(dict(secrets), sort_keys=True).encode())
    wrapped = MultiFernet([Fernet(k) for k in kek]).encrypt(data_key)
    return ciphertext.decode(), wrapped.decode(), key_id(kek[0])


def open_sealed(settings: Mapping[str, Any], ciphertext: str, wrapped: str) -> dict[str, Any]:
    """Decrypt secrets sealed by ``seal`` with any of the configured keys."""
    try:
        data_key = MultiFernet([Fernet(k) for k in keys(settings)]).decrypt(wrapped.encode())
        secrets: dict[str, Any] = json.loads(Fernet(data_key).decrypt(ciphertext.encode()))
    except InvalidToken:
        raise Problem(
            "credentials-key-missing",
            "This carrier account's secrets were encrypted with a key that is no longer configured "
            "(GATEWAY_CREDENTIALS_KEYS); keep the old key listed after the new one until rotation is done.",
        ) from None
    return secrets


def rewrap(settings: Mapping[str, Any], wrapped: str) -> tuple[str, str]:
    """Re-wrap a data key with the current (first) key: (wrapped data key, key id)."""
    kek = keys(settings)
    try:
        rotated = MultiFernet([Fernet(k) for k in kek]).rotate(wrapped.encode())
    except InvalidToken:
        raise Problem(
            "credentials-key-missing",
            "A carrier account's data key was wrapped with a key that is no longer configured.",
        ) from None
    return rotated.decode(), key_id(kek[0])
