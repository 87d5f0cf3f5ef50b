"""The Kubernetes protobuf envelope: ``k8s\\x00`` followed by a ``runtime.Unknown`` message.

runtime.Unknown: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw (the object's own message),
3 contentEncoding, 4 contentType (k8s.io/apimachinery/pkg/runtime/serializer/protobuf).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeplane.machinery import errors
from kubeplane.machinery.protobuf import wire
from kubeplane.machinery.protobuf.decoder import MessageDecoder
from kubeplane.machinery.schema import JSON, schemas

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_TYPE_META, _RAW, _CONTENT_ENCODING = 1, 2, 3
_API_VERSION, _KIND = 1, 2


@dataclass(frozen=True)
class Unknown:
    api_version: str
    kind: str
    raw: bytes
    content_encoding: str


def is_protobuf(content_type: str | None) -> bool:
    """Whether a Content-Type header names the Kubernetes protobuf encoding (parameters ignored)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == MEDIA_TYPE


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise wire.WireError("expected a string")
    return value.decode()


def unwrap(body: bytes) -> Unknown:
    """The envelope of ``body``; raises StatusError 400 when it is not one."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("protobuf body does not start with the Kubernetes magic prefix k8s\\x00")
    api_version = kind = encoding = ""
    raw = b""
    try:
        for field in wire.fields(body[len(MAGIC):]):
            if field.number == _TYPE_META:
                for part in wire.fields(field.value if isinstance(field.value, bytes) else b""):
                    if part.number == _API_VERSION:
                        api_version = _text(part.value)
                    elif part.number == _KIND:
                        kind = _text(part.value)
            elif field.number == _RAW and isinstance(field.value, bytes):
                raw = field.value
            elif field.number == _CONTENT_ENCODING:
                encoding = _text(field.value)
    except (wire.WireError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"unable to decode protobuf envelope: {exc}") from exc
    return Unknown(api_version, kind, raw, encoding)


def decode(body: bytes, minor: str = "1.35") -> JSON:
    """The JSON object carried by a Kubernetes protobuf ``body``, with apiVersion and kind from
    the envelope, as the Go API server would have read it from JSON. Raises StatusError 400."""
    envelope = unwrap(body)
    if not envelope.api_version or not envelope.kind:
        raise errors.bad_request("protobuf body has no apiVersion and kind in its envelope")
    if envelope.content_encoding:
        raise errors.bad_request(
            f"protobuf content encoding {envelope.content_encoding!r} is not supported; send application/json")
    group, _, version = envelope.api_version.rpartition("/")
    version_schemas = schemas(minor)
    definition = version_schemas.definition_name_for(group, version, envelope.kind)
    if definition is None:
        raise errors.bad_request(
            f"unable to decode protobuf body: no kind {envelope.kind!r} is registered for version "
            f"{envelope.api_version!r}")
    try:
        obj = MessageDecoder(version_schemas).decode(envelope.raw, definition)
    except UnicodeDecodeError as exc:
        raise errors.bad_request(f"unable to decode protobuf body of {envelope.kind}: {exc}") from exc
    return {"apiVersion": envelope.api_version, "kind": envelope.kind, **obj}
