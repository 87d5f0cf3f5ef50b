"""The ``pod-template-hash``: names a Deployment's ReplicaSet after its pod template.

Upstream hashes Go's deep-printed template with FNV-1a (32 bit). We hash the template's
canonical JSON (keys sorted, no spaces) with FNV-1a 32 instead, which is as stable across
restarts and releases; the value only has to be the same for the same template and differ
for different ones. The collision count, when set, is mixed in as upstream does, and the
number is spelled with upstream's vowel-free alphabet (``rand.SafeEncodeString``).
"""

from __future__ import annotations

from typing import Any

import orjson

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes, value: int = _FNV32_OFFSET) -> int:
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    return "".join(_SAFE_ALPHABET[ord(char) % len(_SAFE_ALPHABET)] for char in text)


def compute_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    value = fnv32a(orjson.dumps(template, option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        value = fnv32a(collision_count.to_bytes(4, "little"), value)
    return safe_encode(str(value))
