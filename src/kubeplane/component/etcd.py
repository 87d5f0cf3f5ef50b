"""Running Debian's etcd 3.4 for a cluster or a test: its command line and readiness."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

ETCD_BINARY = "/usr/bin/etcd"
# The watch cache relies on progress notifications to learn how far etcd got while idle.
PROGRESS_NOTIFY_INTERVAL = "1s"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def etcd_command(name: str, data_dir: Path, client_url: str, peer_url: str, initial_cluster: str | None = None,
                 extra: Sequence[str] = ()) -> list[str]:
    """argv for one etcd member listening on loopback only. ``initial_cluster`` defaults to this
    member alone (``name=peer_url``)."""
    return [
        ETCD_BINARY,
        f"--name={name}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster={initial_cluster or f'{name}={peer_url}'}",
        "--initial-cluster-state=new",
        f"--experimental-watch-progress-notify-interval={PROGRESS_NOTIFY_INTERVAL}",
        "--logger=zap",
        "--log-outputs=stderr",
        *extra,
    ]


async def wait_etcd_ready(client_url: str, timeout: float) -> None:
    """Poll ``/health`` until etcd reports healthy; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            try:
                async with session.get(f"{client_url}/health") as response:
                    if response.status == 200 and (await response.json(content_type=None)).get("health") == "true":
                        return
            except (TimeoutError, aiohttp.ClientError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"etcd at {client_url} not ready after {timeout}s")
            await asyncio.sleep(0.1)
