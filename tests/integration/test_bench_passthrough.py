"""The pass-through server ``bench/apiserver.py`` measures as a floor must really do the work its
row claims: a TLS client certificate required, each create one etcd create-if-absent txn (a second
create of the name is refused), and every stored pod seen and decoded by its watch."""

from __future__ import annotations

import asyncio
import importlib.util
import ssl
import sys
from pathlib import Path
from types import ModuleType

import aiohttp
import orjson
import pytest

from kubeplane.storage.etcd3.etcd_kv import EtcdKV

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load("_harness")


def pod(name: str) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}})


async def test_passthrough_stores_each_create_once_and_watches_it() -> None:
    with harness.BenchRun() as run:
        etcd_url = await run.start_etcd()
        server = await run.start_apiserver(etcd_url, "/passthrough-test", program=[str(BENCH / "passthrough_apiserver.py")])
        kv = EtcdKV(etcd_url)
        connector = aiohttp.TCPConnector(ssl=server.tls.ssl_context())
        try:
            async with aiohttp.ClientSession(connector=connector) as session:
                url = f"{server.url}/api/v1/namespaces/ns1/pods"
                for name in ("a", "b", "c"):
                    async with session.post(url, data=pod(name)) as response:
                        assert response.status == 201
                        created = await response.json()
                    stored = await kv.range(f"/passthrough-test/pods/ns1/{name}", "")
                    assert len(stored.kvs) == 1
                    assert created["metadata"]["resourceVersion"] == str(stored.kvs[0].mod_revision)
                    assert orjson.loads(stored.kvs[0].value)["metadata"]["uid"] == created["metadata"]["uid"]
                async with session.post(url, data=pod("a")) as response:
                    assert response.status == 409
                for _ in range(100):
                    async with session.get(f"{server.url}/watched") as response:
                        if (await response.json())["watched"] == 3:
                            break
                    await asyncio.sleep(0.05)
                else:
                    pytest.fail("the pass-through watch did not see the three creates")
            # Trusting the CA but offering no certificate: refused, as by the API server.
            anonymous = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=str(server.tls.ca_file)))
            async with aiohttp.ClientSession(connector=anonymous) as session, \
                    session.post(f"{server.url}/api/v1/namespaces/ns1/pods", data=pod("d")) as response:
                assert response.status == 401
            assert (await kv.range("/passthrough-test/pods/ns1/d", "")).kvs == []
        finally:
            await kv.close()
