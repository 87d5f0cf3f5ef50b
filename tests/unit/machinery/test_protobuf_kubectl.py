"""Real protobuf bodies from kubectl 1.37, captured by a throwaway server and decoded."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from kubeplane.apiserver import discovery
from kubeplane.catalog import Catalog, version_info
from kubeplane.machinery import protobuf

MINOR = "1.35"
KUBECTL = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "kubectl"
_kubectl = str(KUBECTL) if KUBECTL.exists() else shutil.which("kubectl")

pytestmark = pytest.mark.skipif(_kubectl is None, reason="kubectl is not installed")


@dataclass
class Captured:
    """Bodies kubectl POSTed, decoded, keyed by request path."""

    content_types: list[str] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)

    def only(self) -> dict[str, Any]:
        assert len(self.objects) == 1, self.objects
        return next(iter(self.objects.values()))


def _json(body: object, content_type: str = "application/json", status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers={"Content-Type": content_type})


def _app(captured: Captured) -> web.Application:
    catalog = Catalog.for_version(MINOR)

    def root(request: web.Request, core: bool) -> web.Response:
        content_type = discovery.negotiate_discovery(request.headers.get("Accept"))
        if content_type is not None:
            return _json(discovery.aggregated(catalog, core, discovery.aggregated_version(content_type)), content_type)
        return _json(discovery.api_versions("127.0.0.1") if core else discovery.api_group_list(catalog))

    async def api(request: web.Request) -> web.Response:
        return root(request, core=True)

    async def apis(request: web.Request) -> web.Response:
        return root(request, core=False)

    async def resources(request: web.Request) -> web.Response:
        body = discovery.api_resource_list(catalog, request.match_info.get("group", ""), request.match_info["version"])
        if body is None:
            raise web.HTTPNotFound()
        return _json(body)

    async def version(_: web.Request) -> web.Response:
        return _json(version_info(MINOR))

    async def create(request: web.Request) -> web.Response:
        captured.content_types.append(request.headers.get("Content-Type", ""))
        obj = protobuf.decode(await request.read(), MINOR)
        captured.objects[request.path] = obj
        answer = orjson.loads(orjson.dumps(obj))
        answer.setdefault("metadata", {}).setdefault("name", "x")
        if answer["kind"].endswith("AccessReview"):
            answer["status"] = {"allowed": True}
        if answer["kind"] == "TokenRequest":
            answer["status"] = {"token": "t0k3n", "expirationTimestamp": "2030-01-01T00:00:00Z"}
        if answer["kind"] == "SelfSubjectReview":
            answer["status"] = {"userInfo": {"username": "me"}}
        return _json(answer, status=201)

    app = web.Application()
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/{version}", resources)
    app.router.add_get("/apis/{group}/{version}", resources)
    app.router.add_get("/version", version)
    app.router.add_post("/{path:.*}", create)
    return app


@contextlib.asynccontextmanager
async def capturing() -> AsyncIterator[tuple[str, Captured]]:
    captured = Captured()
    runner = web.AppRunner(_app(captured))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", captured
    finally:
        await runner.cleanup()


async def kubectl(tmp_path: Path, *args: str) -> Captured:
    """Run kubectl against a capturing server; returns what it POSTed."""
    assert _kubectl is not None
    async with capturing() as (server, captured):
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
        process = await asyncio.create_subprocess_exec(
            _kubectl, f"--server={server}", f"--cache-dir={tmp_path / 'cache'}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, f"kubectl {' '.join(args)} failed: {stderr.decode()}"
    assert captured.content_types, "kubectl sent nothing"
    assert all(protobuf.is_protobuf(ct) for ct in captured.content_types), captured.content_types
    return captured


async def test_namespace(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "namespace", "x")).only()
    assert obj == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}


async def test_configmap(tmp_path: Path) -> None:
    captured = await kubectl(tmp_path, "create", "configmap", "c", "--from-literal=a=b", "--from-literal=e=")
    obj = captured.objects["/api/v1/namespaces/default/configmaps"]
    assert obj["kind"] == "ConfigMap"
    assert obj["metadata"]["name"] == "c"
    assert obj["data"] == {"a": "b", "e": ""}  # an empty map value is kept
    assert "immutable" not in obj and "binaryData" not in obj


async def test_secret_data_is_base64(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "secret", "generic", "s", "--from-literal=k=v")).only()
    assert obj["kind"] == "Secret"
    assert obj["data"] == {"k": base64.b64encode(b"v").decode()}


async def test_deployment_keeps_explicit_zero_replicas(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "deployment", "d", "--image=busybox:1.35", "--replicas=0",
                         "--port=8080")).only()
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "Deployment"
    spec = obj["spec"]
    assert spec["replicas"] == 0
    assert spec["selector"] == {"matchLabels": {"app": "d"}}
    template = spec["template"]
    assert template["metadata"] == {"labels": {"app": "d"}}
    assert template["spec"]["containers"] == [
        {"name": "busybox", "image": "busybox:1.35", "ports": [{"containerPort": 8080}]}]
    assert "strategy" not in spec and "status" not in obj  # empty messages are dropped
    assert "creationTimestamp" not in template["metadata"]


async def test_job(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "job", "j", "--image=busybox:1.35", "--", "sleep", "5")).only()
    assert obj["kind"] == "Job"
    pod = obj["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"] == [{"name": "j", "image": "busybox:1.35", "command": ["sleep", "5"]}]


async def test_cronjob(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "cronjob", "cj", "--image=busybox:1.35",
                         "--schedule=*/5 * * * *")).only()
    assert obj["kind"] == "CronJob"
    assert obj["spec"]["schedule"] == "*/5 * * * *"
    job_template = obj["spec"]["jobTemplate"]
    assert job_template["metadata"]["name"] == "cj"
    assert job_template["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


async def test_service_ports_and_int_or_string(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "service", "clusterip", "s", "--tcp=80:8080",
                         "--tcp=81:http")).only()
    spec = obj["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == {"app": "s"}
    assert spec["ports"] == [
        {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
        {"name": "81-http", "protocol": "TCP", "port": 81, "targetPort": "http"},
    ]


async def test_serviceaccount(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "serviceaccount", "sa")).only()
    assert obj == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}


async def test_role_keeps_empty_string_list_items(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "role", "r", "--verb=get", "--verb=list", "--resource=pods",
                         "--resource=deployments.apps")).only()
    assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]} in obj["rules"]
    assert {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"]} in obj["rules"]


async def test_clusterrole_with_aggregation_rule(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "clusterrole", "agg", "--aggregation-rule=team=a")).only()
    assert obj["kind"] == "ClusterRole"
    assert obj["aggregationRule"] == {"clusterRoleSelectors": [{"matchLabels": {"team": "a"}}]}


async def test_clusterrolebinding(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "clusterrolebinding", "crb", "--clusterrole=edit", "--group=devs")).only()
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
    assert obj["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]


async def test_rolebinding(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "rolebinding", "rb", "--clusterrole=view", "--user=alice",
                         "--serviceaccount=default:sa")).only()
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"} in obj["subjects"]
    assert {"kind": "ServiceAccount", "name": "sa", "namespace": "default"} in obj["subjects"]


async def test_priorityclass_keeps_zero_value(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "priorityclass", "p", "--value=0", "--description=low")).only()
    assert obj["kind"] == "PriorityClass"
    assert obj["value"] == 0
    assert obj["description"] == "low"
    assert obj["preemptionPolicy"] == "PreemptLowerPriority"
    assert "globalDefault" not in obj


async def test_quota(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "quota", "q", "--hard=cpu=1,memory=1Gi,pods=2")).only()
    assert obj["spec"]["hard"] == {"cpu": "1", "memory": "1Gi", "pods": "2"}


async def test_pdb_keeps_zero_min_available(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "pdb", "p", "--selector=app=x", "--min-available=0")).only()
    assert obj["apiVersion"] == "policy/v1"
    assert obj["spec"]["minAvailable"] == 0
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "x"}}


async def test_ingress(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "ingress", "ing", "--class=nginx",
                         "--rule=foo.com/bar*=svc:8080,tls=cert")).only()
    spec = obj["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["rules"] == [{"host": "foo.com", "http": {"paths": [{
        "path": "/bar", "pathType": "Prefix",
        "backend": {"service": {"name": "svc", "port": {"number": 8080}}}}]}}]
    assert spec["tls"] == [{"hosts": ["foo.com"], "secretName": "cert"}]


async def test_dry_run_server_sends_the_body(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "create", "namespace", "dry", "--dry-run=server")).only()
    assert obj["metadata"] == {"name": "dry"}


async def test_auth_can_i(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "auth", "can-i", "get", "pods", "--subresource=log")).only()
    assert obj["kind"] == "SelfSubjectAccessReview"
    assert obj["spec"]["resourceAttributes"] == {
        "namespace": "default", "verb": "get", "resource": "pods", "subresource": "log"}


async def test_auth_whoami(tmp_path: Path) -> None:
    obj = (await kubectl(tmp_path, "auth", "whoami")).only()
    # Everything kubectl sends is zero (empty metadata and status), so nothing but the type survives.
    assert obj == {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


async def test_create_token(tmp_path: Path) -> None:
    captured = await kubectl(tmp_path, "create", "token", "sa", "--audience=api", "--duration=10m")
    obj = captured.objects["/api/v1/namespaces/default/serviceaccounts/sa/token"]
    assert obj["kind"] == "TokenRequest"
    assert obj["spec"] == {"audiences": ["api"], "expirationSeconds": 600}

