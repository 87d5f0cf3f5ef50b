from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from kubeplane.storage.etcd3 import Etcd3Storage
from kubeplane.storage.interface import Storage
from kubeplane.storage.testing.conformance import ALL_CHECKS
from kubeplane.storage.testing.harness import run_against_cacher

pytestmark = pytest.mark.integration

Check = Callable[[Storage, str], Awaitable[None]]


@pytest.fixture
async def etcd_store(etcd_url: str) -> AsyncIterator[Etcd3Storage]:
    store = Etcd3Storage(etcd_url)
    yield store
    await store.close()


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
async def test_etcd3_conformance(check: Check, etcd_store: Etcd3Storage, etcd_prefix: str) -> None:
    await check(etcd_store, etcd_prefix)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
async def test_cacher_over_etcd3_conformance(check: Check, etcd_store: Etcd3Storage, etcd_prefix: str) -> None:
    await run_against_cacher(check, etcd_store, etcd_prefix)
