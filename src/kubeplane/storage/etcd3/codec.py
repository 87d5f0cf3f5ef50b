"""Object <-> stored bytes. The stored bytes never carry ``metadata.resourceVersion``: it is the
revision that last modified the key, stamped on every object read back."""

from __future__ import annotations

from typing import Any

import orjson

JSON = dict[str, Any]


def encode(obj: JSON) -> bytes:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "resourceVersion" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "resourceVersion"}}
    return orjson.dumps(obj)


def decode(value: bytes, revision: int) -> JSON:
    obj: JSON = orjson.loads(value)
    return with_resource_version(obj, revision)


def with_resource_version(obj: JSON, revision: int) -> JSON:
    """``obj`` with ``metadata.resourceVersion`` set; the metadata dict is copied, not mutated."""
    return {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(revision)}}


def resource_version_of(obj: JSON) -> int:
    rv = obj.get("metadata", {}).get("resourceVersion", "")
    return int(rv) if rv else 0


def bookmark(revision: int, annotations: dict[str, str] | None = None) -> JSON:
    """A BOOKMARK payload: only the resourceVersion (plus the watch-list end annotation); the API
    layer adds kind and apiVersion."""
    metadata: JSON = {"resourceVersion": str(revision)}
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata}
