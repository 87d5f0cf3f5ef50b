"""Writing a volume's files all at once, as upstream's AtomicWriter.

The files live in a hidden ``..<timestamp>`` directory; ``..data`` is a symlink to it and each
visible top-level name is a symlink through ``..data``. An update writes a new hidden directory
and renames a fresh symlink over ``..data``, so a reader sees either the old set or the new set,
never a mix, and a program watching ``..data`` sees one change.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


def _validate(path: str) -> None:
    parts = Path(path).parts
    if not path or Path(path).is_absolute() or ".." in parts or parts[0].startswith(".."):
        raise ValueError(f"invalid volume file path {path!r}")


def _current(target: Path) -> dict[str, FileProjection] | None:
    data = target / DATA_DIR
    if not data.is_symlink():
        return None
    current: dict[str, FileProjection] = {}
    base = data.resolve()
    for dirpath, _, files in os.walk(base):
        for name in files:
            file = Path(dirpath, name)
            current[str(file.relative_to(base))] = FileProjection(file.read_bytes(), file.stat().st_mode & 0o777)
    return current


def write_atomically(target: Path, payload: dict[str, FileProjection]) -> bool:
    """Make ``target`` hold exactly ``payload``; returns False when it already did."""
    for path in payload:
        _validate(path)
    target.mkdir(parents=True, exist_ok=True)
    if _current(target) == payload:
        return False
    old = (target / DATA_DIR).resolve() if (target / DATA_DIR).is_symlink() else None
    timestamped = target / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.time_ns() % 10**9}"
    timestamped.mkdir(mode=0o755)
    for path, projection in payload.items():
        file = timestamped / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(projection.data)
        file.chmod(projection.mode)
    tmp_link = target / DATA_DIR_TMP
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(timestamped.name)
    tmp_link.rename(target / DATA_DIR)
    wanted = {Path(path).parts[0] for path in payload}
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in wanted and entry.is_symlink():
            entry.unlink()
    for name in wanted:
        link = target / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA_DIR}/{name}")
    if old is not None and old != timestamped:
        shutil.rmtree(old, ignore_errors=True)
    return True
