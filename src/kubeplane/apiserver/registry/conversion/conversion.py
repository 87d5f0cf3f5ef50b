"""What a conversion between a served version and the storage version is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True)
class Conversion:
    """Functions from the storage version to the served one and back. Both take whole objects or
    partial ones (the watch cache's selector projections) and never mutate their argument."""

    storage_group: str
    storage_version: str
    storage_resource: str
    to_served: Callable[[JSON], JSON]
    to_storage: Callable[[JSON], JSON]
