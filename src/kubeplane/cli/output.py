"""How commands talk to people (rich, on stderr) and to machines (JSON, on stdout)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.console import Console

# Progress and messages go to stderr so stdout stays clean for `-o json` and kubeconfig output.
console = Console(stderr=True, highlight=False)


class CommandError(Exception):
    """A failure the user can act on: printed as a message, no traceback, with an exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def step_done(message: str) -> None:
    console.print(f"[green]✓[/green] {message}")


def add_output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text",
                        help="output format (json for machines)")
