"""What one resource contributes to Tables: its columns and how an object becomes a row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cells import JSON
from .columns import Column
from .duration import Ages

Cells = Callable[[JSON, Ages], list[Any]]


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    # Cells for every column, wide ones included: the API server always prints wide and
    # leaves hiding priority-1 columns to the client.
    cells: Cells
    # Row conditions (upstream sets "Completed" on finished pods so clients may dim them).
    conditions: Callable[[JSON], list[JSON]] | None = None
    # A sort key when upstream orders rows itself (flow schemas print in matching order).
    order: Callable[[JSON], Any] | None = None


# (API group, resource) -> printer; "" is the core group.
Printers = dict[tuple[str, str], Printer]
