"""A pass-through "API server": the least any Python API server over etcd must do for a pod
create, and nothing else. ``bench/apiserver.py`` runs it beside the real one to measure a floor for
this machine that is stricter than raw etcd puts.

Per POST it does what no API server can skip: TLS with the client certificate verified at the
handshake, HTTP/1.1 parsing (aiohttp on uvloop, as ``kubeplane apiserver``), JSON decode of the
body, uid/creationTimestamp/resourceVersion stamped, JSON encode, one etcd create-if-absent
transaction through the same client code (``EtcdKV``), and the JSON response. It also keeps one
etcd watch over what it writes and decodes every event, as a watch cache must (etcd's side of a
watch is part of the cost of a create on a real cluster). No admission, defaulting, validation,
managedFields, authorization or audit: Kubernetes' semantics are exactly what is left out.

Not a component and not a test double: it exists only to be measured.

    python bench/passthrough_apiserver.py --etcd-servers=URL --secure-port=PORT \\
        --tls-cert-file=F --tls-private-key-file=F --client-ca-file=F [--etcd-prefix=/passthrough]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import sys
import uuid
from collections.abc import Sequence

import orjson
from aiohttp import web

from kubeplane.apiserver.server import server_ssl_context
from kubeplane.component.signals import run_until_signalled
from kubeplane.storage.etcd3.etcd_kv import EtcdKV


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--etcd-servers", required=True)
    p.add_argument("--etcd-prefix", default="/passthrough")
    p.add_argument("--secure-port", type=int, required=True)
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--tls-cert-file", required=True)
    p.add_argument("--tls-private-key-file", required=True)
    p.add_argument("--client-ca-file", required=True)
    return p.parse_args(argv)


class PassThrough:
    def __init__(self, kv: EtcdKV, prefix: str) -> None:
        self.kv = kv
        self.prefix = prefix.rstrip("/") + "/pods/"
        self.watched = 0

    async def create_pod(self, request: web.Request) -> web.Response:
        if request.transport is None or request.transport.get_extra_info("peercert") is None:
            return web.json_response({"kind": "Status", "code": 401, "reason": "Unauthorized"}, status=401)
        namespace = request.match_info["namespace"]
        pod = orjson.loads(await request.read())
        meta = pod["metadata"]
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        result = await self.kv.create(f"{self.prefix}{namespace}/{meta['name']}", orjson.dumps(pod))
        if not result.succeeded:
            return web.json_response({"kind": "Status", "code": 409, "reason": "AlreadyExists"}, status=409)
        meta["resourceVersion"] = str(result.revision)
        return web.Response(status=201, body=orjson.dumps(pod), content_type="application/json")

    async def readyz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def watched_count(self, request: web.Request) -> web.Response:
        return web.json_response({"watched": self.watched})

    async def follow(self) -> None:
        """Decode every change under the prefix, as a watch cache does."""
        revision = await self.kv.current_revision()
        watch = await self.kv.watch(self.prefix, self.prefix[:-1] + "0", revision + 1, progress_notify=False)
        try:
            async for batch in watch:
                for event in batch.events:
                    orjson.loads(event.kv.value)
                    self.watched += 1
        finally:
            await watch.close()


async def serve(opts: argparse.Namespace, stop: asyncio.Event) -> int:
    kv = EtcdKV(opts.etcd_servers)
    server = PassThrough(kv, opts.etcd_prefix)
    follower = asyncio.create_task(server.follow())
    app = web.Application(client_max_size=3 << 20)
    app.router.add_post("/api/v1/namespaces/{namespace}/pods", server.create_pod)
    app.router.add_get("/readyz", server.readyz)
    app.router.add_get("/watched", server.watched_count)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    context = server_ssl_context(opts.tls_cert_file, opts.tls_private_key_file, opts.client_ca_file)
    site = web.TCPSite(runner, opts.bind_address, opts.secure_port, ssl_context=context, reuse_address=True)
    await site.start()
    try:
        await stop.wait()
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await runner.cleanup()
        await kv.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    return run_until_signalled(lambda stop: serve(opts, stop))


if __name__ == "__main__":
    sys.exit(main())
