"""Object names the server generates (upstream's SimpleNameGenerator)."""

from __future__ import annotations

import secrets

# Upstream leaves out vowels and look-alike characters so generated names never spell words.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_RANDOM_LENGTH = 5
_MAX_NAME_LENGTH = 63
_MAX_BASE_LENGTH = _MAX_NAME_LENGTH - _RANDOM_LENGTH


def generate_name(base: str) -> str:
    base = base[:_MAX_BASE_LENGTH]
    return base + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
