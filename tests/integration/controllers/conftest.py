"""Fixtures of the live controller tests (helpers are in ``controllers_livelib``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubeplane.client import Client, load_kubeconfig


@pytest.fixture
async def client(apiserver: Any) -> AsyncIterator[Client]:
    """A client acting as the test itself (not as the controllers)."""
    async with Client(load_kubeconfig(apiserver.kubeconfig), component="test") as c:
        yield c
