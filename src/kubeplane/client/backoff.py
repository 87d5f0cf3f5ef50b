"""Exponential backoff with jitter, shared by request retries and watch re-establishment."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.1  # a fraction added at random so that many clients do not retry in step
    _attempt: int = 0

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * self.factor ** self._attempt)
        self._attempt += 1
        return base * (1 + random.uniform(0, self.jitter))

    def reset(self) -> None:
        self._attempt = 0

    @property
    def attempts(self) -> int:
        return self._attempt
