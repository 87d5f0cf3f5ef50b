"""What the live controller tests share: running chosen controllers in this process against the
session's API server, and waiting for the state they converge to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from kubeplane.client import Client, SharedInformerFactory, load_kubeconfig
from kubeplane.controllers.controller import ControllerContext
from kubeplane.controllers.manager import REGISTRY, ControllerManager, ControllerSpec


@contextlib.asynccontextmanager
async def running_controllers(apiserver: Any, names: list[str], registry: dict[str, ControllerSpec] = REGISTRY,
                              root_ca: bytes = b"") -> AsyncIterator[None]:
    """The named controllers, with their own client (no leader election), until the block ends."""
    async with Client(load_kubeconfig(apiserver.kubeconfig), component="controller-manager") as c:
        ctx = ControllerContext(c, SharedInformerFactory(c), root_ca=root_ca)
        task = asyncio.create_task(ControllerManager(ctx, names, registry).run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (a wait, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
