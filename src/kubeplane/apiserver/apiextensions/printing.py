"""Table output of custom resources: ``additionalPrinterColumns``, or Name and Age without them
(upstream's serveDefaultColumnsIfEmpty)."""

from __future__ import annotations

import json
from typing import Any

from kubeplane.machinery.printers.cells import name_of
from kubeplane.machinery.printers.columns import NAME, Column, Doc
from kubeplane.machinery.printers.duration import Ages
from kubeplane.machinery.printers.printer import Printer

from . import jsonpath

JSON = dict[str, Any]

_DEFAULT_COLUMNS = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
_AGE_DOC = Doc("meta.v1.ObjectMeta", "creationTimestamp")


def _go_text(value: Any) -> str:
    """A value in a string column, as Go's text/template prints it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_text(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_text(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    return json.dumps(value)


def _cell(column_type: str, value: Any) -> Any:
    if column_type == "string":
        return _go_text(value)
    if column_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value)
    if column_type == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        return value if isinstance(value, str) else None
    return None


def printer_for_columns(columns: list[JSON] | None) -> Printer:
    declared = [c for c in columns or () if isinstance(c, dict)] or _DEFAULT_COLUMNS
    definitions = tuple(
        Column(str(c.get("name", "")), str(c.get("type", "string")),
               _AGE_DOC if c is _DEFAULT_COLUMNS[0] else str(c.get("description", "")),
               priority=int(c.get("priority", 0) or 0), format=str(c.get("format", "")))
        for c in declared)

    def cells(obj: JSON, ages: Ages) -> list[Any]:
        row: list[Any] = [name_of(obj)]
        for column in declared:
            found, value = jsonpath.find(obj, str(column.get("jsonPath", "")))
            row.append(_cell(str(column.get("type", "string")), value) if found else None)
        return row

    return Printer((NAME, *definitions), cells)
