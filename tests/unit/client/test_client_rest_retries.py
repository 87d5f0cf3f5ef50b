"""Request retries and error decoding against a loopback HTTP server that misbehaves on purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kubeplane.client import errors
from kubeplane.client.backoff import Backoff
from kubeplane.client.config import ClientConfig
from kubeplane.client.resource import CONFIGMAPS, Resource, resource_path
from kubeplane.client.rest import Client


def status(code: int, reason: str, message: str = "") -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message or reason}
    return web.json_response(body, status=code)


class Script:
    """Answers each request with the next scripted response and records what was asked."""

    def __init__(self) -> None:
        self.responses: list[web.Response] = []
        self.requests: list[web.Request] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        return self.responses.pop(0) if self.responses else web.json_response({"ok": True})


@pytest.fixture
async def served() -> AsyncIterator[tuple[Client, Script]]:
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = Client(ClientConfig(server=f"http://127.0.0.1:{port}", token="secret"), component="unit",
                    backoff=Backoff(initial=0.001, maximum=0.002))
    yield client, script
    await client.close()
    await runner.cleanup()


async def test_get_retries_server_errors_then_succeeds(served: tuple[Client, Script]) -> None:
    client, script = served
    script.responses = [status(503, "ServiceUnavailable"), status(500, "InternalError"),
                        web.json_response({"kind": "ConfigMap"})]
    assert await client.get(CONFIGMAPS, "x", "ns") == {"kind": "ConfigMap"}
    assert len(script.requests) == 3
    assert script.requests[0].headers["Authorization"] == "Bearer secret"
    assert script.requests[0].headers["User-Agent"].startswith("kubeplane-unit/")


async def test_post_is_not_retried_on_server_errors(served: tuple[Client, Script]) -> None:
    client, script = served
    script.responses = [status(503, "ServiceUnavailable")]
    with pytest.raises(errors.ServiceUnavailable):
        await client.create(CONFIGMAPS, {"metadata": {"name": "x"}}, "ns")
    assert len(script.requests) == 1


async def test_too_many_requests_is_retried_for_any_verb_after_retry_after(served: tuple[Client, Script]) -> None:
    client, script = served
    throttled = status(429, "TooManyRequests")
    throttled.headers["Retry-After"] = "0"
    script.responses = [throttled, web.json_response({"metadata": {"name": "x"}}, status=201)]
    created = await client.create(CONFIGMAPS, {"metadata": {"name": "x"}}, "ns")
    assert created["metadata"]["name"] == "x" and len(script.requests) == 2
    assert script.requests[1].query["fieldManager"] == "kubeplane-unit"


async def test_retries_give_up_after_max(served: tuple[Client, Script]) -> None:
    client, script = served
    script.responses = [status(504, "Timeout") for _ in range(10)]
    with pytest.raises(errors.ServerTimeout):
        await client.get(CONFIGMAPS, "x", "ns")
    assert len(script.requests) == client.max_retries + 1


async def test_client_errors_are_not_retried(served: tuple[Client, Script]) -> None:
    client, script = served
    script.responses = [status(409, "Conflict", "the object has been modified")]
    with pytest.raises(errors.Conflict) as caught:
        await client.update(CONFIGMAPS, {"metadata": {"name": "x", "namespace": "ns"}})
    assert caught.value.message == "the object has been modified"
    assert len(script.requests) == 1


async def test_connection_refused_is_retried_then_raised() -> None:
    client = Client(ClientConfig(server="http://127.0.0.1:9"), max_retries=2,
                    backoff=Backoff(initial=0.001, maximum=0.002))
    try:
        with pytest.raises(OSError):
            await client.get(CONFIGMAPS, "x", "ns")
    finally:
        await client.close()


def test_errors_are_typed_by_reason_then_code() -> None:
    expired = errors.error_from_status(410, {"kind": "Status", "code": 410, "reason": "Expired", "message": "old"})
    assert isinstance(expired, errors.Expired) and isinstance(expired, errors.Gone)
    exists = errors.error_from_status(409, {"kind": "Status", "reason": "AlreadyExists", "message": "dup"})
    assert isinstance(exists, errors.AlreadyExists) and isinstance(exists, errors.Conflict)
    bare = errors.error_from_status(404, None, "404 page not found")
    assert isinstance(bare, errors.NotFound) and bare.message == "404 page not found"
    retry = errors.error_from_status(429, {"kind": "Status", "reason": "TooManyRequests",
                                           "details": {"retryAfterSeconds": 3}})
    assert isinstance(retry, errors.TooManyRequests) and retry.retry_after == 3
    assert type(errors.error_from_status(418, None, "teapot")) is errors.ApiError


def test_resource_paths() -> None:
    assert resource_path(CONFIGMAPS, "ns", "a b") == "/api/v1/namespaces/ns/configmaps/a%20b"
    assert resource_path(CONFIGMAPS) == "/api/v1/configmaps"
    deployments = Resource("apps", "v1", "deployments")
    assert resource_path(deployments, "ns", "web", "scale") == "/apis/apps/v1/namespaces/ns/deployments/web/scale"
    nodes = Resource("", "v1", "nodes", namespaced=False)
    assert resource_path(nodes, "ignored", "n1", "status") == "/api/v1/nodes/n1/status"
    with pytest.raises(ValueError):
        resource_path(deployments, "ns", None, "scale")
