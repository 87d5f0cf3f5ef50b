from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from kubeplane.storage.interface import Storage
from kubeplane.storage.memory import MemoryStorage
from kubeplane.storage.testing.conformance import ALL_CHECKS
from kubeplane.storage.testing.harness import run_against_cacher


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
async def test_memory_conformance(check: Callable[[Storage, str], Awaitable[None]]) -> None:
    store = MemoryStorage(progress_interval=0.05)
    try:
        await check(store, f"/t-{uuid.uuid4().hex}/registry")
    finally:
        await store.close()


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
async def test_cacher_over_memory_conformance(check: Callable[[Storage, str], Awaitable[None]]) -> None:
    store = MemoryStorage(progress_interval=0.05)
    try:
        await run_against_cacher(check, store, f"/t-{uuid.uuid4().hex}/registry")
    finally:
        await store.close()
