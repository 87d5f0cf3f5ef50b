"""Keeping CPython's cycle collector off the scheduler's hot path.

The scheduler process holds the whole cluster as JSON dicts (5,000 nodes and 10,000 pods are
millions of objects), and every binding brings a new copy of the pod through the pod informer.
With the default thresholds (700, 10, 10) the young generations fill many times per second and
each full collection walks every one of those objects: measured during the 5,000-node /
10,000-pod backlog, 18 full collections took 8.8 s and the young ones 2.2 s of the process's
28 s of CPU (bench/scheduler.py, docs/benchmarks.md). The objects are acyclic dicts and lists
that reference counting frees, so the collector finds next to nothing in them.

So, as upstream Python services do: once the informers have listed the cluster, collect once
and ``gc.freeze()`` what is left (the collector then never scans it; reference counting still
frees it when the informer replaces an object), and raise the thresholds so the young
generations are collected per tens of thousands of allocations rather than per hundreds.
"""

from __future__ import annotations

import gc

# Allocations (minus deallocations) between young collections, then young collections between
# middle ones and middle ones between full ones. Cyclic garbage in the scheduler is rare
# (exceptions with tracebacks, finished tasks), so collecting it a little later costs little memory.
THRESHOLDS = (50_000, 20, 20)


def raise_thresholds() -> None:
    gc.set_threshold(*THRESHOLDS)


def freeze_heap() -> None:
    """Collect once, then exclude every surviving object from later collections."""
    gc.collect()
    gc.freeze()
