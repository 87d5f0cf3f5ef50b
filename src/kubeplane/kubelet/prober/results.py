"""What a probe can conclude, and which probe is speaking.

A handler answers one of upstream's four results. ``WARNING`` (an HTTP probe that stopped at a
redirect to another host) counts as success but is reported with a ``ProbeWarning`` event.
``error`` is set when the probe could not be run at all (upstream's "probe errored"): such an
outcome is retried and then thrown away, never counted against the thresholds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Result(enum.Enum):
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"

    @property
    def passed(self) -> bool:
        return self in (Result.SUCCESS, Result.WARNING)


@dataclass(frozen=True)
class ProbeOutcome:
    result: Result
    output: str = ""
    error: str | None = None


class ProbeKind(enum.Enum):
    LIVENESS = "liveness"
    READINESS = "readiness"
    STARTUP = "startup"

    @property
    def spec_field(self) -> str:
        """The container field holding this probe (``livenessProbe``...)."""
        return f"{self.value}Probe"

    @property
    def title(self) -> str:
        """As upstream prints it at the start of event messages: ``Liveness probe failed: ...``."""
        return self.value.capitalize()
