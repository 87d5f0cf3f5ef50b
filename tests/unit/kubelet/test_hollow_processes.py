"""Splitting a hollow fleet over processes, stopping it, and the status comparison that decides a write."""

from __future__ import annotations

import asyncio
import sys

import pytest

from kubeplane.kubelet.hollow.app import parse_args
from kubeplane.kubelet.hollow.kubelet import _without_heartbeats, cancel_all
from kubeplane.kubelet.hollow.processes import child_argv, split_ranges


def test_ranges_cover_every_node_once_in_order() -> None:
    ranges = split_ranges(10, 5, 3)
    assert ranges == [(5, 4), (9, 3), (12, 3)]
    covered = [index for first, count in ranges for index in range(first, first + count)]
    assert covered == list(range(5, 15))


def test_child_flags_override_the_parents_and_keep_paths_apart() -> None:
    argv = ["--kubeconfig=k", "--count", "5000", "--processes=2", "--root-dir", "/tmp/h", "--log-file=/tmp/l"]
    child = child_argv(argv, 2500, 2500, 1, 5000)
    assert child[:3] == [sys.executable, "-m", "kubeplane.kubelet.hollow.app"]
    opts = parse_args(child[3:])
    assert (opts.first_index, opts.count, opts.processes, opts.fleet_size) == (2500, 2500, 1, 5000)
    assert str(opts.root_dir) == "/tmp/h.1" and opts.log_file == "/tmp/l.1"
    assert opts.kubeconfig == "k"


def test_processes_must_fit_the_count() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--count=2", "--processes=3"])


def test_heartbeat_times_do_not_count_as_a_change() -> None:
    before = {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                              "lastTransitionTime": "2026-01-01T00:00:00Z"}], "images": []}
    beat = {"conditions": [{**before["conditions"][0], "lastHeartbeatTime": "2026-01-01T00:00:10Z"}], "images": []}
    assert _without_heartbeats(before) == _without_heartbeats(beat)
    unknown = {"conditions": [{**before["conditions"][0], "status": "Unknown"}], "images": []}
    assert _without_heartbeats(before) != _without_heartbeats(unknown)
    with_image = {**before, "images": [{"names": ["busybox:1.35"], "sizeBytes": 1}]}
    assert _without_heartbeats(before) != _without_heartbeats(with_image)


async def test_stopping_ends_a_task_that_swallowed_its_cancellation() -> None:
    """What asyncio.wait_for does before Python 3.12 when its wait finishes as it is cancelled."""
    swallowed = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()  # carries on as if nothing happened
        await asyncio.Event().wait()

    async def polite() -> None:
        await asyncio.Event().wait()

    tasks = [asyncio.create_task(stubborn()), asyncio.create_task(polite())]
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_all(tasks), 30)
    assert swallowed.is_set() and all(task.cancelled() for task in tasks)
