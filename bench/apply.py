"""Server-side apply cost against a plain update's field tracking, in process (no server).

Run: .venv/bin/python bench/apply.py [--no-write] — microseconds per operation for a Deployment
with four containers: the floor is the Update bookkeeping every PUT/PATCH already does (field sets
and managedFields); against it, a re-apply that changes one field (merge, pruning of fields no
longer applied, conflict check, entries) and an apply that creates. Writes its section of
docs/benchmarks.md.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from _harness import RESULTS, RESULTS_HEADER, machine_description, markdown_table, write_section
from kubeplane.machinery.apply import ApplyRequest, apply
from kubeplane.machinery.managedfields import update_managed_fields
from kubeplane.machinery.schema import schemas


def _deployment(replicas: int) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": f"img:{i}", "ports": [{"containerPort": 8000 + i, "protocol": "TCP"}],
                   "env": [{"name": f"E{j}", "value": str(j)} for j in range(5)]} for i in range(4)]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": containers}}}}


def _per_op(fn: Callable[[], object], rounds: int = 300) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds * 1e6


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    s = schemas("1.35")
    node = s.for_kind("apps", "v1", "Deployment")
    assert node is not None
    request = ApplyRequest("bench", "apps/v1")
    live = apply(s, node, None, _deployment(1), request)
    changed = _deployment(2)

    def update() -> None:
        new = copy.deepcopy(live)
        new["spec"]["replicas"] = 2
        update_managed_fields(s, node, new, live, "bench-update", "apps/v1")

    def reapply() -> None:
        apply(s, node, live, copy.deepcopy(changed), request)

    def create_by_apply() -> None:
        apply(s, node, None, copy.deepcopy(changed), request)

    floor = _per_op(update)
    rows = [("Update field tracking, one field changed (floor)", floor),
            ("server-side apply, one field changed", _per_op(reapply)),
            ("server-side apply that creates", _per_op(create_by_apply))]
    machine = machine_description()
    table = markdown_table(["operation", "µs per call", "ratio to floor"],
                           [[name, f"{us:,.0f}", f"{us / floor:.1f}"] for name, us in rows])
    text = (f"## Server-side apply (`bench/apply.py`)\n\nRun {machine['date']} on {machine['nproc']} CPUs "
            f"({machine['cpu']}), Python {machine['python']}. In process, no server: a Deployment with four "
            f"containers; each figure is the mean of 300 calls.\n\n{table}\n")
    print(text)
    if not args.no_write:
        write_section(RESULTS, "apply", text, RESULTS_HEADER)


if __name__ == "__main__":
    main()
