"""What a hollow container "does": read from its command line when that is a recognisable shell
pattern (``sleep N``, ``exit N``, ``true``, ``false``, ``echo ...`` joined by ``;``, ``&&`` or new
lines, possibly under ``sh -c``), else it runs until stopped (a server, an image's entrypoint).

Nothing is executed: the hollow runtime only schedules the exit and writes what ``echo`` would
have printed to the container's log.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass

SHELLS = frozenset({"sh", "bash", "ash", "dash"})
_SEPARATORS = re.compile(r"\s*(;|&&|\n)\s*")


@dataclass(frozen=True)
class Behaviour:
    """``runs_for`` seconds, then exit with ``exit_code``; ``runs_for`` None: until stopped."""

    runs_for: float | None
    exit_code: int = 0
    output: tuple[str, ...] = ()  # lines written to stdout

    @property
    def forever(self) -> bool:
        return self.runs_for is None


FOREVER = Behaviour(None)


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _script_of(argv: list[str]) -> str | None:
    """The shell text the command amounts to: ``sh -c TEXT`` → TEXT, a plain command → itself."""
    if not argv:
        return None
    if _basename(argv[0]) in SHELLS:
        if len(argv) >= 3 and argv[1] == "-c":
            return argv[2]
        return None  # an interactive shell, or a script file: runs until stopped
    return shlex.join(argv)


def _step(words: list[str]) -> tuple[float, int, str | None] | None:
    """(seconds, exit status, printed line) of one simple command, or None if not recognised."""
    if not words:
        return 0.0, 0, None
    name, args = _basename(words[0]), words[1:]
    if name == "true" and not args:
        return 0.0, 0, None
    if name == "false" and not args:
        return 0.0, 1, None
    if name == "echo":
        return 0.0, 0, " ".join(args)
    if name == "sleep" and len(args) == 1:
        try:
            seconds = float(args[0].removesuffix("s"))
        except ValueError:
            return None  # "sleep infinity", "sleep 1m": treat as running until stopped
        return (seconds, 0, None) if math.isfinite(seconds) and seconds >= 0 else None
    return None


def behaviour_of(command: list[str], args: list[str]) -> Behaviour:
    """The behaviour of a container started with CRI ``command`` + ``args``."""
    script = _script_of(list(command) + list(args))
    if script is None or not script.strip():
        return FOREVER
    parts = _SEPARATORS.split(script.strip())
    elapsed, status, output = 0.0, 0, list[str]()
    # parts alternate: command, separator, command, ...
    for index in range(0, len(parts), 2):
        separator = parts[index - 1] if index else ";"
        if separator == "&&" and status != 0:
            continue  # skipped, as the shell would
        try:
            words = shlex.split(parts[index])
        except ValueError:
            return FOREVER
        if words and _basename(words[0]) == "exit" and len(words) <= 2:
            try:
                return Behaviour(elapsed, int(words[1]) & 0xFF if len(words) == 2 else status, tuple(output))
            except ValueError:
                return FOREVER
        step = _step(words)
        if step is None:
            return FOREVER
        seconds, status, line = step
        elapsed += seconds
        if line is not None:
            output.append(line)
    return Behaviour(elapsed, status, tuple(output))
