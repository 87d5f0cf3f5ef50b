"""Content negotiation: which media type a client sends and which representation it accepts.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io,application/json``; controllers ask for
``as=PartialObjectMetadataList``; clients that prefer protobuf also list JSON, and we only speak JSON
and YAML, so protobuf-only requests are answered 406 (accept) or 415 (body) as upstream would for an
unsupported type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from kubeplane.machinery import errors, protobuf

JSON_TYPE = "application/json"
YAML_TYPE = "application/yaml"

# Conversions a client may ask for with ``as=``.
AS_TABLE = "Table"
AS_PARTIAL = "PartialObjectMetadata"
AS_PARTIAL_LIST = "PartialObjectMetadataList"
_META_GROUP = "meta.k8s.io"


@dataclass
class MediaType:
    type: str
    params: dict[str, str] = field(default_factory=dict)


def parse_media_types(header: str) -> list[MediaType]:
    out = []
    for part in header.split(","):
        part = part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in part.split(";")]
        params = {}
        for piece in pieces[1:]:
            if "=" in piece:
                k, v = piece.split("=", 1)
                params[k.strip().lower()] = v.strip().strip('"')
        out.append(MediaType(pieces[0].lower(), params))
    return out


@dataclass
class Representation:
    """What to answer with: ``media`` (json or yaml) and an optional ``as_`` conversion."""

    media: str = JSON_TYPE
    as_: str = ""
    version: str = ""


def negotiate_output(accept: str | None) -> Representation:
    if not accept:
        return Representation()
    for mt in parse_media_types(accept):
        if mt.type in (JSON_TYPE, "*/*", "application/*", YAML_TYPE):
            media = YAML_TYPE if mt.type == YAML_TYPE else JSON_TYPE
            as_ = mt.params.get("as", "")
            if as_:
                if mt.params.get("g") != _META_GROUP or as_ not in (AS_TABLE, AS_PARTIAL, AS_PARTIAL_LIST) \
                        or mt.params.get("v") not in ("v1", "v1beta1"):
                    continue
                return Representation(media, as_, mt.params.get("v", "v1"))
            return Representation(media)
    raise errors.not_acceptable(
        "only the following media types are accepted: application/json, application/yaml")


def decode_body(content_type: str | None, body: bytes, minor: str = "1.35") -> Any:
    """Decode a request body (JSON, YAML or Kubernetes protobuf) into Python data; 4xx Status on
    any failure."""
    media = (content_type or JSON_TYPE).split(";")[0].strip().lower()
    if protobuf.is_protobuf(media):
        return protobuf.decode(body, minor)
    try:
        if media.endswith("yaml"):
            return yaml.safe_load(body) if body.strip() else None
        if media.endswith("json") or media in ("", "*/*", "text/plain"):
            return orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding JSON: {exc}") from exc
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from exc
    raise errors.unsupported_media_type(media)


def encode(obj: Any, media: str = JSON_TYPE) -> bytes:
    if media == YAML_TYPE:
        # Through JSON first: cached objects carry pre-encoded parts (orjson fragments).
        plain = orjson.loads(orjson.dumps(obj))
        return yaml.safe_dump(plain, sort_keys=False, default_flow_style=False).encode()
    try:
        return orjson.dumps(obj)
    except TypeError:
        # Header bytes that are not UTF-8 reach us as surrogate escapes (aiohttp decodes with
        # surrogateescape) and may be echoed back, e.g. an impersonated user name in a 403.
        # Go's encoder writes U+FFFD for invalid UTF-8; so do we, instead of failing with a 500.
        return orjson.dumps(_without_surrogates(obj))


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_surrogates(v) for v in value]
    return value
