"""List continue tokens, byte-compatible with upstream's (base64url, unpadded, of
``{"v":"meta.k8s.io/v1","rv":N,"start":"<key after the prefix>"}``)."""

from __future__ import annotations

import base64
import binascii
import posixpath

import orjson

from kubeplane.storage.interface import InvalidContinueError

_VERSION = "meta.k8s.io/v1"
# A token's revision -1: continue at the latest revision (an inconsistent continuation), what
# upstream hands back in the 410 for a token whose revision etcd has compacted away.
LATEST = -1


def encode_continue(next_key: str, prefix: str, revision: int) -> str:
    if not next_key.startswith(prefix):
        raise ValueError(f"key {next_key!r} is not under {prefix!r}")
    payload = orjson.dumps({"v": _VERSION, "rv": revision, "start": next_key[len(prefix):]})
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def decode_continue(token: str, prefix: str) -> tuple[str, int]:
    """Return (the full key to resume from, the list revision; 0 for the latest)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError) as e:
        raise InvalidContinueError(prefix, f"continue key is not valid: {e}") from e
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        version = data.get("v") if isinstance(data, dict) else None
        raise InvalidContinueError(
            prefix, f"continue key is not valid: server does not recognize this encoded version {version}")
    revision, start = data.get("rv"), data.get("start")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision == 0:
        raise InvalidContinueError(
            prefix, "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not isinstance(start, str) or not start:
        raise InvalidContinueError(prefix, "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
    # A client must not climb above the prefix with "../" tricks: the cleaned path must be itself.
    rooted = start if start.startswith("/") else "/" + start
    if posixpath.normpath(rooted) != rooted or rooted.startswith("//"):
        raise InvalidContinueError(prefix, f"continue key is not valid: {start}")
    # Any negative revision continues at the latest, as upstream (only 0 is refused).
    return prefix + rooted[1:], max(revision, 0)
