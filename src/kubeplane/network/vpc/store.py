"""VPC state on disk: ``<root>/<vpc>/vpc.json``, written atomically, changed under a file lock.

Every process that changes a VPC (the CLI, node agents, the CNI's IPAM daemon) goes through
``VpcStore.locked``: an exclusive ``flock`` serialises read-modify-write cycles across
processes, and temp-file + fsync + rename means a crash leaves either the old or the new state,
never a torn file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from kubeplane.network.vpc.model import NotFound, Vpc, validate_vpc_name

_STATE_FILE = "vpc.json"
_LOCK_FILE = "lock"


class VpcStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def directory(self, name: str) -> Path:
        return self.root / validate_vpc_name(name)

    def exists(self, name: str) -> bool:
        return (self.directory(name) / _STATE_FILE).exists()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir() if (entry / _STATE_FILE).exists())

    def load(self, name: str) -> Vpc:
        path = self.directory(name) / _STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"VPC {name!r} does not exist") from None
        return Vpc.from_dict(data)

    def save(self, vpc: Vpc) -> None:
        directory = self.directory(vpc.name)
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / _STATE_FILE
        temporary = directory / f".{_STATE_FILE}.{os.getpid()}.tmp"
        with temporary.open("w") as handle:
            json.dump(vpc.to_dict(), handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        _fsync_directory(directory)

    @contextlib.contextmanager
    def locked(self, name: str, create: bool = False) -> Iterator[None]:
        """Hold the VPC's exclusive lock. Without ``create`` the VPC must already exist."""
        directory = self.directory(name)
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        elif not directory.is_dir():
            raise NotFound(f"VPC {name!r} does not exist")
        with (directory / _LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def remove(self, name: str) -> None:
        shutil.rmtree(self.directory(name), ignore_errors=True)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
