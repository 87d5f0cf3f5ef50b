"""Types whose protobuf message differs from their JSON form (custom marshallers upstream).

Each decoder takes the message bytes and returns the JSON value, or None for the zero value
(a zero Time is an empty message on the wire and ``null`` in JSON).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import orjson

from kubeplane.machinery.protobuf import wire

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# Go's zero time.Time (0001-01-01T00:00:00Z) as Unix seconds; a sender may encode it explicitly.
_GO_ZERO_TIME_SECONDS = -62135596800


def _scalars(data: bytes) -> dict[int, int | bytes]:
    """The last value of each field (proto2 semantics for non-repeated fields)."""
    return {field.number: field.value for field in wire.fields(data)}


def _int(values: dict[int, int | bytes], number: int) -> int:
    value = values.get(number, 0)
    if not isinstance(value, int):
        raise wire.WireError(f"field {number} should be a varint")
    return wire.as_signed(value)


def _bytes(values: dict[int, int | bytes], number: int) -> bytes:
    value = values.get(number, b"")
    if not isinstance(value, bytes):
        raise wire.WireError(f"field {number} should be length-delimited")
    return value


def _timestamp(data: bytes) -> datetime.datetime | None:
    values = _scalars(data)
    seconds, nanos = _int(values, 1), _int(values, 2)
    if (seconds == 0 and nanos == 0) or seconds == _GO_ZERO_TIME_SECONDS:
        return None
    return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)


def decode_time(data: bytes) -> str | None:
    """meta.v1.Time: RFC 3339 in UTC at second precision, as Go's JSON marshaller writes it."""
    moment = _timestamp(data)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_micro_time(data: bytes) -> str | None:
    """meta.v1.MicroTime: like Time with six fractional digits."""
    moment = _timestamp(data)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_go_duration(nanoseconds: int) -> str:
    """time.Duration.String(): "1h2m3.5s", "1.5ms", "0s"."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    ns = abs(nanoseconds)
    if ns < 1_000_000_000:
        # Sub-second durations use the largest unit that keeps a non-zero integer part.
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim_decimal(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _trim_decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _trim_decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")


def decode_duration(data: bytes) -> str | None:
    nanoseconds = _int(_scalars(data), 1)
    return format_go_duration(nanoseconds)


def decode_int_or_string(data: bytes) -> int | str:
    """util.intstr.IntOrString {1 type (0 int, 1 string), 2 intVal, 3 strVal}."""
    values = _scalars(data)
    if _int(values, 1) == 1:
        return _bytes(values, 3).decode()
    return _int(values, 2)


def decode_quantity(data: bytes) -> str | None:
    """api.resource.Quantity {1 string}: the canonical string, as in JSON."""
    text = _bytes(_scalars(data), 1).decode()
    return text or None


def decode_raw_json(data: bytes) -> Any:
    """runtime.RawExtension / meta.v1.FieldsV1 {1 raw}: the raw bytes hold the JSON document."""
    raw = _bytes(_scalars(data), 1)
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise wire.WireError(f"raw bytes are not JSON ({exc})") from exc


SPECIAL_DECODERS: dict[str, Callable[[bytes], Any]] = {
    f"{_META}.Time": decode_time,
    f"{_META}.MicroTime": decode_micro_time,
    f"{_META}.Duration": decode_duration,
    f"{_META}.FieldsV1": decode_raw_json,
    "io.k8s.apimachinery.pkg.runtime.RawExtension": decode_raw_json,
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": decode_int_or_string,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": decode_quantity,
}
