"""Eviction thresholds as upstream's flags write them (``memory.available<100Mi``,
``nodefs.available<10%``) and the quantity formatting its messages use."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from kubeplane.machinery.validation import quantity

MEMORY_AVAILABLE = "memory.available"
# Upstream knows more signals (nodefs/imagefs/pid); only memory is observed here, the others are
# accepted so that upstream command lines still parse, and never met.
KNOWN_SIGNALS = (MEMORY_AVAILABLE, "nodefs.available", "nodefs.inodesFree", "imagefs.available",
                 "imagefs.inodesFree", "pid.available")
DEFAULT_EVICTION_HARD = "memory.available<100Mi"


@dataclass(frozen=True)
class Threshold:
    signal: str
    text: str  # the quantity as written ("100Mi", "10%"): upstream's messages quote it
    amount: int | None = None  # bytes, or None for a percentage
    percentage: float = 0.0  # of capacity, 0..1
    grace_period: float = 0.0  # seconds; 0 for hard thresholds

    @property
    def hard(self) -> bool:
        return self.grace_period == 0.0

    def value(self, capacity: int) -> int:
        """The threshold in bytes for a node of ``capacity`` bytes."""
        if self.amount is not None:
            return self.amount
        return int(capacity * self.percentage)

    def quantity_text(self, capacity: int) -> str:
        """How upstream's eviction message names the threshold: as written, or for a percentage
        the quantity it stands for."""
        return self.text if self.amount is not None else format_binary(self.value(capacity))


def parse_thresholds(text: str, grace_periods: dict[str, float] | None = None) -> tuple[Threshold, ...]:
    """``signal<quantity`` pairs, comma separated. Soft thresholds need a grace period each, as
    upstream refuses a soft threshold without one."""
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        signal, sep, value = item.partition("<")
        if not sep or signal not in KNOWN_SIGNALS or not value:
            raise ValueError(f"invalid eviction threshold {item!r} (want e.g. memory.available<100Mi)")
        grace = 0.0
        if grace_periods is not None:
            if signal not in grace_periods:
                raise ValueError(f"no grace period specified for soft eviction threshold {signal!r}")
            grace = grace_periods[signal]
        if value.endswith("%"):
            percent = float(value[:-1])
            if not 0 <= percent <= 100:
                raise ValueError(f"eviction percentage threshold {item!r} must be within 0% and 100%")
            out.append(Threshold(signal, value, None, percent / 100, grace))
            continue
        parsed = quantity.parse(value)
        if parsed is None or parsed < 0:
            raise ValueError(f"invalid eviction threshold quantity {value!r}")
        out.append(Threshold(signal, value, math.ceil(parsed), 0.0, grace))
    return tuple(out)


def parse_grace_periods(text: str, parse_duration: Callable[[str], float]) -> dict[str, float]:
    """``signal=duration`` pairs, comma separated (``--eviction-soft-grace-period``);
    ``parse_duration`` turns a Go duration into seconds."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        signal, sep, duration = item.partition("=")
        if not sep or signal not in KNOWN_SIGNALS:
            raise ValueError(f"invalid eviction grace period {item!r} (want e.g. memory.available=1m30s)")
        seconds = float(parse_duration(duration))
        if seconds <= 0:
            raise ValueError(f"eviction grace period for {signal} must be positive")
        out[signal] = seconds
    return out


_BINARY_SUFFIXES = (("Ei", 2 ** 60), ("Pi", 2 ** 50), ("Ti", 2 ** 40), ("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10))


def format_binary(value: int) -> str:
    """A byte count as a Kubernetes BinarySI quantity prints: the largest power-of-1024 suffix
    that divides it exactly (52428800 -> 50Mi, 52424704 -> 51196Ki, 1000 -> 1000)."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for suffix, size in _BINARY_SUFFIXES:
        if magnitude % size == 0:
            return f"{sign}{magnitude // size}{suffix}"
    return f"{sign}{magnitude}"
