"""The hollow fleet's API clients: requests in flight bounded by a semaphore, not by the pool.

Thousands of kubelets in one process share a client, so a burst of pod status and event writes
can queue thousands deep. aiohttp's own pool limit counts the wait for a connection against the
request's timeout, which turned a deep queue into timed-out writes (and a pod status then waits
for the next periodic sync). Waiting for a turn here costs no timeout; only the request itself
is timed. Watches (``Client.watch``) do not take a turn: they last for minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kubeplane.client import Client, ClientConfig

JSON = dict[str, Any]


class BoundedClient(Client):
    def __init__(self, config: ClientConfig, component: str, in_flight: int) -> None:
        # Unlimited pool: the semaphore is the bound, so connections are never waited for.
        super().__init__(config, component=component, connection_limit=0)
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        self.in_flight = in_flight
        self._turns = asyncio.Semaphore(in_flight)

    async def request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json") -> JSON:
        async with self._turns:
            return await super().request(method, path, params, body, content_type)
