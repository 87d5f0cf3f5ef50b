"""The protobuf wire format, read-only: split a message into (number, wire type, value) fields.

Hand-written rather than built on ``google.protobuf`` descriptors: the format is four wire types
and a varint, and everything above it (field names, types, zero values) comes from our schemas
and numbering table anyway, so descriptors would only restate that table in another form.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5

_MAX_VARINT_BYTES = 10
_SIGN_BIT_64 = 1 << 63


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class Field(NamedTuple):
    number: int
    wire_type: int
    value: int | bytes  # int for VARINT/FIXED64/FIXED32, bytes for LENGTH_DELIMITED


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it."""
    result = 0
    for shift_index in range(_MAX_VARINT_BYTES):
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << (7 * shift_index)
        if not byte & 0x80:
            return result, pos
    raise WireError("varint longer than 10 bytes")


def as_signed(value: int) -> int:
    """int32/int64 are sent as 64-bit two's complement varints (negative int32 is sign-extended)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value & _SIGN_BIT_64 else value


def as_double(value: int) -> float:
    result: float = struct.unpack("<d", value.to_bytes(8, "little"))[0]
    return result


def fields(data: bytes) -> Iterator[Field]:
    """Every field of one message, in wire order."""
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 0x7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
            yield Field(number, wire_type, value)
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise WireError(f"field {number} runs past the end of the message")
            yield Field(number, wire_type, data[pos:pos + length])
            pos += length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if pos + size > end:
                raise WireError(f"field {number} runs past the end of the message")
            yield Field(number, wire_type, int.from_bytes(data[pos:pos + size], "little"))
            pos += size
        else:
            # Groups (3, 4) are proto1 relics no Kubernetes message uses.
            raise WireError(f"field {number} has unsupported wire type {wire_type}")


def packed_varints(data: bytes) -> list[int]:
    """Elements of a packed repeated varint field (proto2 Kubernetes messages never pack, but
    a conforming reader accepts both encodings)."""
    values = []
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        values.append(value)
    return values
