"""The protobuf form of the OpenAPI v2 document (gnostic's ``openapi.v2.Document``).

kubectl's client-side validation (used whenever the server cannot validate fields itself for a
kind, e.g. the items of a ``kind: List``) asks ``/openapi/v2`` for protobuf only, as upstream's
kube-openapi handler serves it. We build that encoding from the swagger JSON we already have, writing
the protobuf wire format by hand for the messages kubectl reads: document, info, paths (operations,
query parameters, responses) and definitions (schemas). Vendor extensions, defaults, enums and
examples are ``Any`` messages carrying their value as YAML text (JSON is YAML), as gnostic does.

Every message and field number here was checked against gnostic's definition, google/gnostic
``openapiv2/OpenAPIv2.proto`` (commit 96635ff3a800e184f8b2f7bf9b3b765d0fa071cd, the file kube-openapi
vendors); tests/unit/apiserver/test_apiserver_openapi_proto.py decodes our output with the protobuf
runtime against a transcription of that file, so a wrong number fails there.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Iterable
from typing import Any

import orjson

JSON = dict[str, Any]

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# The spelling older clients send (before the "@" form); upstream accepts both.
LEGACY_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# Answers are labelled with the "@"-less spelling: "@" is not allowed in a media subtype, and Go's
# mime parser (which kubectl runs on the response's Content-Type) rejects it.
RESPONSE_MEDIA_TYPE = LEGACY_MEDIA_TYPE

_VARINT, _FIXED64, _BYTES = 0, 1, 2


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s are ten-byte two's complement, as protobuf writes them
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _key(number, _BYTES) + _varint(len(payload)) + payload


def _string(number: int, value: Any) -> bytes:
    return _bytes_field(number, str(value).encode()) if value not in (None, "") else b""


def _bool(number: int, value: Any) -> bytes:
    return _key(number, _VARINT) + b"\x01" if value is True else b""


def _int64(number: int, value: Any) -> bytes:
    return _key(number, _VARINT) + _varint(int(value)) if isinstance(value, (int, float)) else b""


def _double(number: int, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return b""
    return _key(number, _FIXED64) + struct.pack("<d", float(value))


def _message(number: int, payload: bytes) -> bytes:
    """A sub-message field; written even when empty, since presence matters for messages."""
    return _bytes_field(number, payload)


def _any(value: Any) -> bytes:
    """gnostic ``Any``: field 2 is the value as YAML text."""
    return _bytes_field(2, orjson.dumps(value))


def _named(number: int, name: str, value_payload: bytes) -> bytes:
    return _message(number, _string(1, name) + _message(2, value_payload))


def _extensions(number: int, node: JSON) -> bytes:
    return b"".join(_named(number, key, _any(value)) for key, value in node.items() if key.startswith("x-"))


# Schema: scalar fields by JSON name -> (field number, writer).
_SCHEMA_SCALARS = {
    "$ref": (1, _string), "format": (2, _string), "title": (3, _string), "description": (4, _string),
    "multipleOf": (6, _double), "maximum": (7, _double), "exclusiveMaximum": (8, _bool),
    "minimum": (9, _double), "exclusiveMinimum": (10, _bool), "maxLength": (11, _int64),
    "minLength": (12, _int64), "pattern": (13, _string), "maxItems": (14, _int64),
    "minItems": (15, _int64), "uniqueItems": (16, _bool), "maxProperties": (17, _int64),
    "minProperties": (18, _int64), "discriminator": (26, _string), "readOnly": (27, _bool),
}


def _schema(node: JSON) -> bytes:
    out = bytearray()
    for key, (number, write) in _SCHEMA_SCALARS.items():
        if key in node:
            out += write(number, node[key])
    if "default" in node:
        out += _message(5, _any(node["default"]))
    for name in node.get("required", ()):
        out += _string(19, name)
    for value in node.get("enum", ()):
        out += _message(20, _any(value))
    additional = node.get("additionalProperties")
    if isinstance(additional, bool):
        out += _message(21, _key(2, _VARINT) + _varint(int(additional)))
    elif isinstance(additional, dict):
        out += _message(21, _message(1, _schema(additional)))
    if "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        out += _message(22, b"".join(_string(1, t) for t in types))
    items = node.get("items")
    if isinstance(items, (dict, list)):
        out += _message(23, b"".join(_message(1, _schema(s)) for s in _as_list(items)))
    for sub in node.get("allOf", ()):
        out += _message(24, _schema(sub))
    if isinstance(node.get("properties"), dict):
        out += _message(25, _named_schemas(node["properties"]))
    if "example" in node:
        out += _message(30, _any(node["example"]))
    out += _extensions(31, node)
    return bytes(out)


def _as_list(value: JSON | list[JSON]) -> list[JSON]:
    return value if isinstance(value, list) else [value]


def _named_schemas(schemas: JSON) -> bytes:
    return b"".join(_named(1, name, _schema(s)) for name, s in schemas.items())


def _parameter(parameter: JSON) -> bytes:
    """A ParametersItem. Body parameters carry a schema; the rest are query/path/header
    sub-schemas, of which we only emit the fields kubectl reads (name, in, type)."""
    if "$ref" in parameter:
        return _message(2, _string(1, parameter["$ref"]) + _string(2, parameter.get("description")))
    where = parameter.get("in", "query")
    if where == "body":
        body = (_string(1, parameter.get("description")) + _string(2, parameter.get("name")) + _string(3, where)
                + _bool(4, parameter.get("required")) + _message(5, _schema(parameter.get("schema", {}))))
        return _message(1, _message(1, body))
    # NonBodyParameter oneof: header 1, formData 2, query 3, path 4. Field numbers inside differ:
    # query and formData have allow_empty_value (5) before type, header and path do not.
    kind, type_field = {"header": (1, 5), "formData": (2, 6), "path": (4, 5)}.get(where, (3, 6))
    sub = (_bool(1, parameter.get("required")) + _string(2, where) + _string(3, parameter.get("description"))
           + _string(4, parameter.get("name")) + _string(type_field, parameter.get("type"))
           + _bool(type_field + 14, parameter.get("uniqueItems")))
    return _message(1, _message(2, _message(kind, sub)))


def _responses(responses: JSON) -> bytes:
    out = bytearray()
    for code, response in responses.items():
        if "$ref" in response:
            value = _message(2, _string(1, response["$ref"]))
        else:
            body = _string(1, response.get("description"))
            if isinstance(response.get("schema"), dict):
                body += _message(2, _message(1, _schema(response["schema"])))
            value = _message(1, body + _extensions(5, response))
        out += _named(1, code, value)
    return bytes(out)


def _operation(operation: JSON) -> bytes:
    out = bytearray()
    for tag in operation.get("tags", ()):
        out += _string(1, tag)
    out += _string(2, operation.get("summary")) + _string(3, operation.get("description"))
    out += _string(5, operation.get("operationId"))
    for media in operation.get("produces", ()):
        out += _string(6, media)
    for media in operation.get("consumes", ()):
        out += _string(7, media)
    for parameter in operation.get("parameters", ()):
        out += _message(8, _parameter(parameter))
    out += _message(9, _responses(operation.get("responses", {})))
    for scheme in operation.get("schemes", ()):
        out += _string(10, scheme)
    out += _bool(11, operation.get("deprecated"))
    out += _extensions(13, operation)
    return bytes(out)


_PATH_ITEM_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: JSON) -> bytes:
    out = bytearray(_string(1, item.get("$ref")))
    for method, number in _PATH_ITEM_METHODS.items():
        if isinstance(item.get(method), dict):
            out += _message(number, _operation(item[method]))
    for parameter in item.get("parameters", ()):
        out += _message(9, _parameter(parameter))
    out += _extensions(10, item)
    return bytes(out)


def _paths(paths: JSON) -> bytes:
    return _extensions(1, paths) + b"".join(
        _named(2, path, _path_item(item)) for path, item in paths.items() if not path.startswith("x-"))


def _strings(number: int, values: Iterable[str]) -> bytes:
    return b"".join(_string(number, v) for v in values)


def encode_document(document: JSON) -> bytes:
    """Encode a swagger 2.0 document (as parsed JSON) as gnostic's ``openapi.v2.Document``."""
    info = document.get("info", {})
    return (
        _string(1, document.get("swagger", "2.0"))
        + _message(2, _string(1, info.get("title")) + _string(2, info.get("version"))
                   + _string(3, info.get("description")))
        + _string(3, document.get("host")) + _string(4, document.get("basePath"))
        + _strings(5, document.get("schemes", ())) + _strings(6, document.get("consumes", ()))
        + _strings(7, document.get("produces", ()))
        + _message(8, _paths(document.get("paths", {})))
        + _message(9, _named_schemas(document.get("definitions", {})))
        + _extensions(16, document)
    )


@functools.lru_cache(maxsize=4)
def protobuf_document(json_body: bytes) -> tuple[bytes, str]:
    """The protobuf encoding of a serialized swagger document and its ETag. Cached: the built-in
    document and the one with custom resources are each encoded once per change."""
    body = encode_document(orjson.loads(json_body))
    return body, f'"{hashlib.sha512(body).hexdigest().upper()}"'


def wants_protobuf(accept: str) -> bool | None:
    """True if the Accept header prefers the protobuf form, False if it prefers JSON, None if it
    accepts neither. The first listed type that we can serve wins (q-values are not weighed, as
    kubectl never sends them)."""
    if not accept:
        return False
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in (MEDIA_TYPE, LEGACY_MEDIA_TYPE):
            return True
        if media in ("application/json", "*/*", "application/*"):
            return False
    return None
