"""Structured logs: one line per event, to stderr and optionally to a file under the state dir."""

from __future__ import annotations

import logging
import sys


def setup_logging(component: str, log_file: str | None = None, level: int = logging.INFO) -> None:
    fmt = logging.Formatter(f"%(asctime)s %(levelname)s {component} %(name)s: %(message)s")
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    root.addHandler(stderr)
    if log_file:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(fmt)
        root.addHandler(handler)
