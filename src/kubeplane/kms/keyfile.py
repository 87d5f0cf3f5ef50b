"""The local KMS's key-encryption keys (KEKs): AES-256 keys in one JSON file, mode 0600.

The last key is the primary: it encrypts every new DEK. Older keys stay to decrypt DEKs they
encrypted until the operator removes them (after re-writing the data, as upstream documents).
Writes go to a temporary file renamed over the old one, so a reader never sees half a file.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEK_BYTES = 32
FILE_MODE = 0o600


class KeyFileError(ValueError):
    """The key file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class KeyEncryptionKey:
    key_id: str
    secret: bytes
    created: str


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[KeyEncryptionKey, ...]

    @property
    def primary(self) -> KeyEncryptionKey:
        return self.keys[-1]

    def find(self, key_id: str) -> KeyEncryptionKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


def new_key() -> KeyEncryptionKey:
    # The key id names the key, never derives from it: it is stored in etcd in plaintext.
    now = datetime.datetime.now(datetime.UTC)
    key_id = f"local-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
    return KeyEncryptionKey(key_id, secrets.token_bytes(KEK_BYTES), now.isoformat(timespec="seconds"))


def load(path: Path) -> KeyRing:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: no such key file") from exc
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: {exc}") from exc
    items = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise KeyFileError(f"{path}: 'keys' must be a non-empty list")
    keys: list[KeyEncryptionKey] = []
    for i, item in enumerate(items):
        try:
            secret = base64.b64decode(item["secret"], validate=True)
            key = KeyEncryptionKey(str(item["id"]), secret, str(item.get("created", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFileError(f"{path}: keys[{i}]: needs 'id' and a base64 'secret'") from exc
        if len(key.secret) != KEK_BYTES or not key.key_id:
            raise KeyFileError(f"{path}: keys[{i}]: a KEK is {KEK_BYTES} bytes with a non-empty id")
        keys.append(key)
    return KeyRing(tuple(keys))


def save(path: Path, ring: KeyRing) -> None:
    document = {"keys": [{"id": k.key_id, "secret": base64.b64encode(k.secret).decode(), "created": k.created}
                         for k in ring.keys]}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_or_create(path: Path) -> KeyRing:
    """The key file's keys; a missing file is created with one new key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save(path, KeyRing((new_key(),)))
    return load(path)


def rotate(path: Path) -> KeyEncryptionKey:
    """Add a new primary key (creating the file if needed); older keys stay for decryption."""
    ring = load(path) if path.exists() else KeyRing(())
    key = new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    save(path, KeyRing((*ring.keys, key)))
    return key
