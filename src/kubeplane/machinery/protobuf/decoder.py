"""Schema-driven decoding of one Kubernetes protobuf message into its JSON dict.

The OpenAPI definition says what each JSON field is (scalar, list, map, nested definition);
``numbers`` says which wire field carries it. Go's generated marshaller writes every
non-pointer field even when zero, while Go's JSON omits zero ``omitempty`` fields, so zero
values are dropped unless the table marks the field as one whose zero is meaningful.
"""

from __future__ import annotations

import base64
from typing import Any

from kubeplane.machinery import errors
from kubeplane.machinery.protobuf import wire
from kubeplane.machinery.protobuf.numbers import FieldNumber, numbers_for
from kubeplane.machinery.protobuf.special import SPECIAL_DECODERS
from kubeplane.machinery.schema import JSON, Schemas, type_names

_REF_PREFIX = "#/$defs/"
# How map entries and list-valued map values (ExtraValue-style wrappers) are numbered.
_ENTRY_KEY, _ENTRY_VALUE, _WRAPPED_ITEMS = 1, 2, 1


class _Unsupported(Exception):
    """A field this decoder cannot place; becomes a 400 naming the field and message."""


def _short(definition: str) -> str:
    return definition.rsplit(".", 1)[-1]


def _ref(node: JSON) -> str | None:
    ref = node.get("$ref")
    return ref[len(_REF_PREFIX):] if isinstance(ref, str) and ref.startswith(_REF_PREFIX) else None


def _is_zero(value: Any) -> bool:
    return value is None or value == "" or value is False or value == 0 or value == {} or value == []


class MessageDecoder:
    """Decodes messages of one Kubernetes minor's schemas."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas

    def decode(self, data: bytes, definition: str) -> JSON:
        """The JSON object of ``data``, a message of OpenAPI ``definition``; raises StatusError 400."""
        try:
            return self._message(data, definition)
        except wire.WireError as exc:
            raise errors.bad_request(f"unable to decode protobuf body of {_short(definition)}: {exc}") from exc

    # --- messages

    def _message(self, data: bytes, definition: str, schema_owner: str | None = None) -> JSON:
        """Decode ``data`` with ``definition``'s numbers; ``schema_owner`` names the definition whose
        properties describe the fields (differs only for embedded structs inlined into a parent)."""
        out: JSON = {}
        if not data:
            return out
        numbers = numbers_for(definition)
        schema = self.schemas.defs.get(schema_owner or definition)
        for field in wire.fields(data):
            meaning = numbers.get(field.number) if numbers is not None else None
            if meaning is None or schema is None:
                raise self._unknown(field.number, definition, "no field with this number is known")
            try:
                self._field(out, field, meaning, schema, schema_owner or definition)
            except _Unsupported as exc:
                raise self._unknown(field.number, definition, str(exc)) from exc
        keeps_zero = {meaning.name for meaning in (numbers or {}).values() if meaning.keeps_zero}
        return {key: value for key, value in out.items() if key in keeps_zero or not _is_zero(value)}

    @staticmethod
    def _unknown(number: int, definition: str, why: str) -> errors.StatusError:
        return errors.bad_request(
            f"unable to decode protobuf field {number} of {_short(definition)}: {why}; "
            "send application/json instead")

    def _field(self, out: JSON, field: wire.Field, meaning: FieldNumber, schema: JSON, owner: str) -> None:
        if meaning.embedded:
            out.update(self._message(self._bytes(field), meaning.name, schema_owner=owner))
            return
        node = (schema.get("properties") or {}).get(meaning.name)
        if node is None:
            raise _Unsupported(f"{meaning.name!r} is not in this version's schema")
        item_node = self._array_items(node)
        if item_node is not None:
            out.setdefault(meaning.name, []).extend(self._repeated(field, item_node))
            return
        value_node = self._map_values(node)
        if value_node is not None:
            key, value = self._map_entry(self._bytes(field), value_node)
            out.setdefault(meaning.name, {})[key] = value
            return
        out[meaning.name] = self._value(field, node)

    # --- schema shapes

    def _array_items(self, node: JSON) -> JSON | None:
        if "$ref" in node or "array" not in type_names(node):
            return None
        items = node.get("items")
        return items if isinstance(items, dict) else {}

    def _map_values(self, node: JSON) -> JSON | None:
        if "$ref" in node or node.get("properties"):
            return None
        extra = node.get("additionalProperties")
        return extra if isinstance(extra, dict) else None

    # --- values

    def _repeated(self, field: wire.Field, item_node: JSON) -> list[Any]:
        scalar = self._scalar_kind(item_node)
        if scalar in ("integer", "boolean") and field.wire_type == wire.LENGTH_DELIMITED:
            return [self._from_varint(v, scalar) for v in wire.packed_varints(self._bytes(field))]
        return [self._value(field, item_node)]

    def _map_entry(self, entry: bytes, value_node: JSON) -> tuple[str, Any]:
        key, value = "", None
        for part in wire.fields(entry):
            if part.number == _ENTRY_KEY:
                key = self._bytes(part).decode()
            elif part.number == _ENTRY_VALUE:
                value = self._value(part, value_node)
        if value is None:
            # An entry without a value field is the element type's zero value.
            value = self._zero(value_node)
        return key, value

    def _value(self, field: wire.Field, node: JSON) -> Any:
        definition = _ref(node)
        if definition is not None:
            special = SPECIAL_DECODERS.get(definition)
            if special is not None:
                return special(self._bytes(field))
            return self._message(self._bytes(field), definition)
        item_node = self._array_items(node)
        if item_node is not None:
            # A list inside a map or list travels wrapped in a message (upstream's ExtraValue).
            return [value for part in wire.fields(self._bytes(field)) if part.number == _WRAPPED_ITEMS
                    for value in self._repeated(part, item_node)]
        value_node = self._map_values(node)
        if value_node is not None:
            raise _Unsupported("nested maps are not supported")
        return self._scalar(field, node)

    def _scalar(self, field: wire.Field, node: JSON) -> Any:
        kind = self._scalar_kind(node)
        if kind == "string":
            raw = self._bytes(field)
            return base64.b64encode(raw).decode() if node.get("format") == "byte" else raw.decode()
        if kind in ("integer", "boolean"):
            if field.wire_type != wire.VARINT:
                raise _Unsupported(f"expected a varint, got wire type {field.wire_type}")
            return self._from_varint(int(field.value), kind)
        if kind == "number":
            if field.wire_type != wire.FIXED64:
                raise _Unsupported(f"expected a double, got wire type {field.wire_type}")
            return wire.as_double(int(field.value))
        raise _Unsupported(f"schema type {sorted(type_names(node))} has no protobuf mapping here")

    @staticmethod
    def _scalar_kind(node: JSON) -> str | None:
        kinds = type_names(node)
        for kind in ("string", "integer", "boolean", "number"):
            if kind in kinds:
                return kind
        return None

    @staticmethod
    def _from_varint(value: int, kind: str) -> int | bool:
        return value != 0 if kind == "boolean" else wire.as_signed(value)

    def _zero(self, node: JSON) -> Any:
        kind = self._scalar_kind(node)
        return {"string": "", "integer": 0, "boolean": False, "number": 0.0}.get(kind or "")

    @staticmethod
    def _bytes(field: wire.Field) -> bytes:
        if not isinstance(field.value, bytes):
            raise _Unsupported(f"expected a length-delimited value, got wire type {field.wire_type}")
        return field.value
