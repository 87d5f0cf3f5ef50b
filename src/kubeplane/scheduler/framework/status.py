"""The result of running a plugin: a code and the reasons behind it.

Plugins say *why* (reasons, as upstream words them); the framework decides *what* to do with
the code (try the next node, give up on the pod, wait, skip the plugin later in the cycle).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    # No amount of preemption on this node would help (e.g. a taint or a node selector).
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


@dataclass
class Status:
    code: Code = Code.SUCCESS
    reasons: list[str] = field(default_factory=list)
    plugin: str = ""

    @classmethod
    def unschedulable(cls, *reasons: str, unresolvable: bool = False) -> Status:
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE, list(reasons))

    @classmethod
    def error(cls, message: str) -> Status:
        return cls(Code.ERROR, [message])

    @classmethod
    def skip(cls) -> Status:
        return cls(Code.SKIP)

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def rejected(self) -> bool:
        """The pod cannot go here (as opposed to something having gone wrong)."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, name: str) -> Status:
        if not self.plugin:
            self.plugin = name
        return self


SUCCESS = Status()
