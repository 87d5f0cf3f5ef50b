"""``--processes K``: one event loop uses one core, so a fleet too big for one is split into K
child processes, each running a contiguous range of the node indexes (``--first-index``,
``--count``) with the same other flags. The parent only forwards SIGTERM/SIGINT to its children
(by PID) and ends when they have; if one child ends, the others are stopped too."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
import types

CHILD_STOP_GRACE = 30.0
POLL_INTERVAL = 0.5
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the parent dies, so a parent killed before it could
    stop its children (a supervisor's SIGKILL after its grace period) leaves none behind."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def split_ranges(count: int, first_index: int, processes: int) -> list[tuple[int, int]]:
    """(first index, count) per process: ``count`` nodes as evenly as possible, in order."""
    base, extra = divmod(count, processes)
    ranges, start = [], first_index
    for index in range(processes):
        size = base + (1 if index < extra else 0)
        ranges.append((start, size))
        start += size
    return ranges


def child_argv(argv: list[str], first: int, count: int, index: int, fleet_size: int) -> list[str]:
    """The parent's flags with this child's range; later flags win in argparse, so appending
    overrides is enough. Per-child root dirs and log files keep children from sharing paths; the
    fleet size makes every child lay out the address range alike (its own share of pod addresses)."""
    extra = [f"--first-index={first}", f"--count={count}", "--processes=1", f"--fleet-size={fleet_size}"]
    for flag in ("--root-dir", "--log-file"):
        value = _flag_value(argv, flag)
        if value:
            extra.append(f"{flag}={value}.{index}")
    return [sys.executable, "-m", "kubeplane.kubelet.hollow.app", *argv, *extra]


def _flag_value(argv: list[str], flag: str) -> str:
    value = ""
    for position, word in enumerate(argv):
        if word.startswith(flag + "="):
            value = word.split("=", 1)[1]
        elif word == flag and position + 1 < len(argv):
            value = argv[position + 1]
    return value


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + CHILD_STOP_GRACE
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


def run_split(argv: list[str], count: int, first_index: int, processes: int, fleet_size: int | None = None) -> int:
    """Run ``processes`` children over nodes ``first_index .. first_index + count - 1`` of a fleet of
    ``fleet_size`` (default: up to the last of them)."""
    size = fleet_size if fleet_size is not None else first_index + count
    stopping = False

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    children: list[subprocess.Popen[bytes]] = []
    try:
        for index, (first, nodes) in enumerate(split_ranges(count, first_index, processes)):
            children.append(subprocess.Popen(child_argv(argv, first, nodes, index, size), stdin=subprocess.DEVNULL,
                                             preexec_fn=_die_with_parent))
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(POLL_INTERVAL)
        ended = [child.returncode for child in children if child.returncode is not None]
    finally:
        _stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else (ended[0] if ended and ended[0] != 0 else 1)
