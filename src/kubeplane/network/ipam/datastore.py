"""ipamd's own state on disk: which pod holds which address and which addresses cool down.

The ENIs and their IPs are not stored here: the VPC's state is the truth for those, read again at
every start. A crash between two writes leaves the previous file (temp file + fsync + rename), so
a restarted ipamd hands every running pod the address it had (ADD is idempotent by container id
and interface) and never gives a held address to a new pod.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kubeplane.network.ipam.pool import Assignment

STATE_FILE = "assignments.json"
_FORMAT_VERSION = 1


class Datastore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_FILE

    def load(self) -> tuple[list[Assignment], dict[str, float]]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return [], {}
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{self.path}: unsupported format version {data.get('version')!r}")
        assignments = [Assignment(**entry) for entry in data.get("assignments", [])]
        cooling = {ip: float(until) for ip, until in data.get("cooling", {}).items()}
        return assignments, cooling

    def save(self, assignments: list[Assignment], cooling: dict[str, float]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"version": _FORMAT_VERSION,
                    "assignments": [asdict(a) for a in sorted(assignments, key=lambda a: a.ip)],
                    "cooling": cooling}
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with temporary.open("w") as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
