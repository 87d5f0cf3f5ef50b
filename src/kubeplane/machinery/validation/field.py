"""Field paths and field errors, rendered the way upstream's ``field.ErrorList`` renders them.

A ``Cause.message`` is upstream's ``ErrorBody()`` (the text after ``"<field>: "``), so the API server
can join causes into the familiar ``Pod "x" is invalid: spec.containers[0].image: Required value``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kubeplane.machinery.errors import Cause

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
NOT_FOUND = "FieldValueNotFound"
TYPE_INVALID = "FieldValueTypeInvalid"

FIELD_IMMUTABLE = "field is immutable"


def child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    # Upstream prints map keys bare inside brackets: requests[cpu], data[foo.conf].
    return f"{path}[{k}]"


class Rendered(str):
    """A bad value already printed the way upstream prints it (e.g. a Go struct literal)."""


def go_value(value: Any) -> str:
    """A bad value as Go's ``%v``/``%q`` prints it in field errors."""
    if isinstance(value, Rendered):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        pairs = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{pairs}}}"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def go_quote(text: str) -> str:
    """Go's %q of a string: printable characters as they are, others escaped as Go escapes
    them (a control character as ``\\x01`` where JSON would write ``\\u0001``)."""
    out = []
    for char in text:
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif ord(char) < 0x10000:
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v"}


def _with_detail(body: str, detail: str) -> str:
    return f"{body}: {detail}" if detail else body


def required(path: str, detail: str = "") -> Cause:
    return Cause(REQUIRED, _with_detail("Required value", detail), path)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(INVALID, _with_detail(f"Invalid value: {go_value(value)}", detail), path)


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(TYPE_INVALID, _with_detail(f"Invalid value: {go_value(value)}", detail), path)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(json.dumps(s) for s in supported)
    detail = f"supported values: {quoted}" if quoted else ""
    return Cause(NOT_SUPPORTED, _with_detail(f"Unsupported value: {go_value(value)}", detail), path)


def duplicate(path: str, value: Any) -> Cause:
    return Cause(DUPLICATE, f"Duplicate value: {go_value(value)}", path)


def not_found(path: str, value: Any) -> Cause:
    return Cause(NOT_FOUND, f"Not found: {go_value(value)}", path)


def forbidden(path: str, detail: str) -> Cause:
    return Cause(FORBIDDEN, _with_detail("Forbidden", detail), path)


def too_long(path: str, max_bytes: int) -> Cause:
    # Current upstream wording; releases before ~1.32 said "must have at most N bytes".
    unit = "byte" if max_bytes == 1 else "bytes"
    return Cause(TOO_LONG, f"Too long: may not be more than {max_bytes} {unit}", path)


def too_many(path: str, actual: int, maximum: int) -> Cause:
    return Cause(TOO_MANY, f"Too many: {actual}: must have at most {maximum} items", path)


def invalid_all(path: str, value: Any, messages: Iterable[str]) -> list[Cause]:
    """One ``Invalid`` cause per message of a name/format check (upstream's loop over IsXxx())."""
    return [invalid(path, value, message) for message in messages]


def immutable(path: str, new: Any, old: Any) -> list[Cause]:
    return [] if new == old else [invalid(path, new, FIELD_IMMUTABLE)]


def dedupe(causes: Iterable[Cause]) -> list[Cause]:
    """Drop repeats, as upstream's ``ErrorList.ToAggregate`` does (same field and message)."""
    seen: set[tuple[str, str]] = set()
    out: list[Cause] = []
    for cause in causes:
        marker = (cause.field, cause.message)
        if marker not in seen:
            seen.add(marker)
            out.append(cause)
    return out


def nonnegative(path: str, value: Any) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def one_of(path: str, value: Any, supported: Iterable[str], required_when_empty: bool = True) -> list[Cause]:
    """Enum check: empty -> Required (when wanted), unknown -> Unsupported with the list."""
    options = list(supported)
    if value in (None, ""):
        return [required(path, "")] if required_when_empty else []
    return [] if value in options else [not_supported(path, value, options)]
