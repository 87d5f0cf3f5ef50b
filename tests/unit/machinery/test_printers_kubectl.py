"""The real kubectl renders our Tables the way it renders a real API server's.

A tiny loopback server answers discovery and serves Tables built by ``printers.table``; kubectl
1.37 then prints them, default and ``-o wide``.
"""

import asyncio
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kubeplane.machinery.printers import table

KUBECTL = shutil.which(
    "kubectl", path=str(Path(__file__).resolve().parents[3] / ".venv" / "bin")
) or shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

# Ten hours old prints as "10h" for a whole hour, so the age cannot flip during the test.
CREATED = (datetime.now(UTC) - timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "creationTimestamp": CREATED, "resourceVersion": "7"},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}},
    },
    "status": {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 3, "availableReplicas": 3},
}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-0",
        "namespace": "default",
        "creationTimestamp": CREATED,
        "resourceVersion": "8",
    },
    "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "nginx"}]},
    "status": {
        "phase": "Running",
        "podIPs": [{"ip": "198.18.1.7"}],
        "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}],
    },
}


def _resource_list(group_version: str, resources: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {"name": name, "singularName": "", "namespaced": True, "kind": kind, "verbs": ["get", "list"]}
            for name, kind in resources
        ],
    }


def _app() -> web.Application:
    async def api(_: web.Request) -> web.Response:
        return web.json_response(
            {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        )

    async def apis(_: web.Request) -> web.Response:
        version = {"groupVersion": "apps/v1", "version": "v1"}
        groups = [{"name": "apps", "versions": [version], "preferredVersion": version}]
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def core_v1(_: web.Request) -> web.Response:
        return web.json_response(_resource_list("v1", [("pods", "Pod")]))

    async def apps_v1(_: web.Request) -> web.Response:
        return web.json_response(_resource_list("apps/v1", [("deployments", "Deployment")]))

    def lister(group: str, resource: str, obj: dict[str, Any]) -> Any:
        async def handler(request: web.Request) -> web.Response:
            assert "as=Table" in request.headers.get("Accept", "")
            result = table(group, resource, [obj])
            result["metadata"] = {"resourceVersion": "9"}
            return web.json_response(result)

        return handler

    app = web.Application()
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", core_v1)
    app.router.add_get("/apis/apps/v1", apps_v1)
    app.router.add_get("/api/v1/namespaces/default/pods", lister("", "pods", POD))
    app.router.add_get(
        "/apis/apps/v1/namespaces/default/deployments", lister("apps", "deployments", DEPLOYMENT)
    )
    return app


async def _kubectl(server: str, home: Path, *args: str) -> list[list[str]]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KUBECONFIG": str(home / "none")}
    process = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        f"--server={server}",
        "--namespace=default",
        "--request-timeout=10s",
        "get",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return [line.split() for line in stdout.decode().splitlines()]


@pytest.mark.timeout(60)
async def test_kubectl_prints_our_tables(tmp_path: Path) -> None:
    runner = web.AppRunner(_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        server = f"http://127.0.0.1:{port}"
        deployments = await _kubectl(server, tmp_path, "deployments")
        wide = await _kubectl(server, tmp_path, "deployments", "-o", "wide")
        pods = await _kubectl(server, tmp_path, "pods", "-o", "wide")
    finally:
        await runner.cleanup()
    assert deployments == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ["web", "3/3", "3", "3", "10h"],
    ]
    assert wide[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1] == ["web", "3/3", "3", "3", "10h", "nginx", "nginx:1.27", "app=web"]
    assert pods[0] == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
    ]
    assert pods[1] == ["web-0", "1/1", "Running", "0", "10h", "198.18.1.7", "node-a", "<none>", "<none>"]
