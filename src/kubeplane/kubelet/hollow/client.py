"""The hollow fleet's API clients: requests in flight bounded by turns handed out by priority,
not by the connection pool.

Thousands of kubelets in one process share a client, so a burst of pod status and event writes
can queue thousands deep. aiohttp's own pool limit counts the wait for a connection against the
request's timeout, which turned a deep queue into timed-out writes (and a pod status then waits
for the next periodic sync). Waiting for a turn here costs no timeout; only the request itself
is timed. Watches (``Client.watch``) do not take a turn: they last for minutes.

Turns go by priority, then first come first served. Real kubelets each have a connection of
their own and the API server's priority and fairness keeps node heartbeats apart from workload
traffic; a fleet sharing one queue must do that itself. Measured at 5,000 nodes while pods were
created: the heartbeat client had ~6,000 requests waiting (a Lease per node plus the Node status
writes each node's first pod causes), Lease renewals came 30-70 s apart and the node lifecycle
controller declared hundreds of nodes Unknown; and pod status writes, which make a pod Running,
waited behind thousands of event writes. So:

- Lease writes go first: a node is declared dead 40 s after its last renewal;
- then everything else (pod status, Node status, reads);
- events last: they are informational, and upstream's kubelet drops them under pressure too.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Mapping
from typing import Any

from kubeplane.client import Client, ClientConfig

JSON = dict[str, Any]

HEARTBEAT, NORMAL, EVENTS = 0, 1, 2
PRIORITY_NAMES = {HEARTBEAT: "leases", NORMAL: "other", EVENTS: "events"}


def resource_of(path: str) -> str:
    """The resource a REST path names: ``/api/v1/namespaces/ns/pods/p/status`` → ``pods``."""
    segments = path.split("?", 1)[0].strip("/").split("/")
    if "namespaces" in segments:
        at = segments.index("namespaces") + 2
        if at < len(segments):
            return segments[at]
    at = 2 if segments[0] == "api" else 3  # /api/<version>/<resource>, /apis/<group>/<version>/<resource>
    return segments[at] if at < len(segments) else ""


def priority_of(method: str, path: str) -> int:
    """A request's turn priority, from the resource it names."""
    resource = resource_of(path)
    if resource == "leases":
        return HEARTBEAT
    if resource == "events":
        return EVENTS
    return NORMAL


class PriorityTurns:
    """``slots`` turns; a freed turn goes to the waiter with the lowest priority number, the
    longest-waiting first among equals. Used from one event loop only."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("at least one turn is needed")
        self.slots = slots
        self._free = slots
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.waiting = dict.fromkeys(PRIORITY_NAMES, 0)  # by priority, for the fleet's report

    async def acquire(self, priority: int) -> None:
        if self._free > 0 and not self._queue:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (priority, next(self._order), turn))
        self.waiting[priority] = self.waiting.get(priority, 0) + 1
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # the turn was handed to us as we were cancelled: pass it on
            raise
        finally:
            self.waiting[priority] -= 1

    def release(self) -> None:
        while self._queue:
            _, _, turn = heapq.heappop(self._queue)
            if not turn.done():  # a cancelled waiter's entry is skipped
                turn.set_result(None)
                return
        self._free += 1


class BoundedClient(Client):
    def __init__(self, config: ClientConfig, component: str, in_flight: int) -> None:
        # Unlimited pool: the turns are the bound, so connections are never waited for.
        super().__init__(config, component=component, connection_limit=0)
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        self.in_flight = in_flight
        self.turns = PriorityTurns(in_flight)

    @property
    def waiting(self) -> dict[str, int]:
        """Requests waiting for a turn, by kind."""
        return {PRIORITY_NAMES[priority]: count for priority, count in self.turns.waiting.items() if count}

    async def request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json") -> JSON:
        await self.turns.acquire(priority_of(method, path))
        try:
            return await super().request(method, path, params, body, content_type)
        finally:
            self.turns.release()
