"""A throwaway HTTP server that serves only discovery, /version and OpenAPI documents, so tests can
point the real kubectl at them. Not a test module itself (no ``test_`` prefix)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
from aiohttp import web

from kubeplane.apiserver import discovery, openapi
from kubeplane.catalog import Catalog, version_info

KUBECTL = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "kubectl"


def kubectl_path() -> str | None:
    if KUBECTL.exists():
        return str(KUBECTL)
    return shutil.which("kubectl")


def _json(body: object, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(body), headers={"Content-Type": content_type})


def _document(document: openapi.Document | None) -> web.Response:
    if document is None:
        raise web.HTTPNotFound()
    return web.Response(body=document.body, content_type="application/json", headers={"ETag": document.etag})


def build_app(minor: str, server_address: str = "127.0.0.1:6443") -> web.Application:
    catalog = Catalog.for_version(minor)

    async def api(request: web.Request) -> web.Response:
        return _root(request, core=True)

    async def apis(request: web.Request) -> web.Response:
        return _root(request, core=False)

    def _root(request: web.Request, core: bool) -> web.Response:
        content_type = discovery.negotiate_discovery(request.headers.get("Accept"))
        if content_type is not None:
            body = discovery.aggregated(catalog, core, discovery.aggregated_version(content_type))
            return _json(body, content_type)
        return _json(discovery.api_versions(server_address) if core else discovery.api_group_list(catalog))

    async def group(request: web.Request) -> web.Response:
        body = discovery.api_group(catalog, request.match_info["group"])
        if body is None:
            raise web.HTTPNotFound()
        return _json(body)

    async def resource_list(request: web.Request) -> web.Response:
        body = discovery.api_resource_list(
            catalog, request.match_info.get("group", ""), request.match_info["version"])
        if body is None:
            raise web.HTTPNotFound()
        return _json(body)

    async def version(_: web.Request) -> web.Response:
        return _json(version_info(minor))

    async def v2(_: web.Request) -> web.Response:
        return _document(openapi.openapi_v2(minor))

    async def v3_index(_: web.Request) -> web.Response:
        return _document(openapi.openapi_v3_index(minor))

    async def v3_document(request: web.Request) -> web.Response:
        return _document(openapi.openapi_v3_document(minor, request.match_info["path"]))

    app = web.Application()
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/{version}", resource_list)
    app.router.add_get("/apis/{group}", group)
    app.router.add_get("/apis/{group}/{version}", resource_list)
    app.router.add_get("/version", version)
    app.router.add_get("/openapi/v2", v2)
    app.router.add_get("/openapi/v3", v3_index)
    app.router.add_get("/openapi/v3/{path:.+}", v3_document)
    return app


@contextlib.asynccontextmanager
async def serving(minor: str) -> AsyncIterator[str]:
    """Serve the documents of ``minor`` on a free loopback port; yields the server URL."""
    runner = web.AppRunner(build_app(minor))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def run_kubectl(server: str, workdir: Path, *args: str) -> str:
    """Run the real kubectl against ``server`` with a private cache; returns stdout, fails on error."""
    kubectl = kubectl_path()
    assert kubectl is not None
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "KUBECONFIG": str(workdir / "none")}
    process = await asyncio.create_subprocess_exec(
        kubectl, f"--server={server}", f"--cache-dir={workdir / 'cache'}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, f"kubectl {' '.join(args)} failed: {stderr.decode()}"
    return stdout.decode()
