"""Key ranges and resourceVersion parsing shared by the store and the cacher."""

from __future__ import annotations

from kubeplane.storage.etcd3.kv import prefix_end


def key_range(prefix: str) -> tuple[str, str]:
    """[start, end) of a list/watch: every key under a ``/``-terminated prefix, else the one key."""
    if prefix.endswith("/"):
        return prefix, prefix_end(prefix)
    return prefix, prefix + "\x00"


def parse_resource_version(value: str) -> int:
    """``""`` and ``"0"`` are 0; anything else must be a non-negative integer (validated upstream of
    storage; a ValueError here is a caller bug)."""
    if not value:
        return 0
    revision = int(value)
    if revision < 0:
        raise ValueError(f"invalid resourceVersion {value!r}")
    return revision
