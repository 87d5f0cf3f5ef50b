"""A client for the session's real API server, built from the kubeconfig the fixture wrote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubeplane.client.config import load_kubeconfig
from kubeplane.client.rest import Client


@pytest.fixture
async def client(apiserver: Any) -> AsyncIterator[Client]:
    async with Client(load_kubeconfig(apiserver.kubeconfig), component="test") as c:
        yield c
