"""Per-controller credentials: service accounts made on demand, TokenRequest tokens renewed at 80%
of their lifetime, clients that send them instead of the manager's certificate, and the manager
handing each controller the client of its upstream service account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from kubeplane.apiserver.authz.bootstrap.controller_roles import controller_role_bindings
from kubeplane.apiserver.authz.bootstrap.namespace_roles import namespace_role_bindings
from kubeplane.client import ApiError, Client, ClientConfig, FakeClock, NotFound, SharedInformerFactory
from kubeplane.client.resource import SERVICEACCOUNTS, Resource
from kubeplane.controllers.app import parse_args
from kubeplane.controllers.clientbuilder import ServiceAccountClientBuilder, ServiceAccountTokenSource
from kubeplane.controllers.controller import ControllerContext
from kubeplane.controllers.manager import REGISTRY, ControllerManager, ControllerSpec

JSON = dict[str, Any]


def status_error(cls: type[ApiError], code: int, reason: str) -> ApiError:
    return cls(code, reason, reason, {"kind": "Status", "code": code, "reason": reason, "message": reason})


class FakeRoot:
    """The manager's own client as far as the token source uses it: service accounts and TokenRequest.

    Tokens are ``<account>-<n>``; the server grants ``granted_seconds`` when set (a server may
    issue shorter tokens than asked for), else what was asked."""

    def __init__(self, clock: FakeClock, config: ClientConfig | None = None) -> None:
        self.clock = clock
        self.config = config or ClientConfig(server="http://manager")  # what the builder copies
        self.field_manager = "kubeplane-controller-manager"
        self.accounts: set[tuple[str, str]] = set()
        self.calls: list[tuple[str, str]] = []
        self.issued = 0
        self.granted_seconds: int | None = None
        self.fail_token_requests = False

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> JSON:
        assert resource == SERVICEACCOUNTS
        self.calls.append(("get", name))
        if (str(namespace), name) not in self.accounts:
            raise status_error(NotFound, 404, "NotFound")
        return {"metadata": {"name": name, "namespace": namespace}}

    async def create(self, resource: Resource, body: JSON, namespace: str | None = None,
                     subresource: str | None = None, name: str | None = None) -> JSON:
        assert resource == SERVICEACCOUNTS
        if subresource is None:
            self.calls.append(("create", body["metadata"]["name"]))
            self.accounts.add((str(namespace), body["metadata"]["name"]))
            return body
        assert subresource == "token" and body["kind"] == "TokenRequest"
        self.calls.append(("token", str(name)))
        await asyncio.sleep(0)  # let concurrent callers pile up behind the lock
        if self.fail_token_requests:
            raise status_error(ApiError, 503, "ServiceUnavailable")
        if (str(namespace), str(name)) not in self.accounts:
            raise status_error(NotFound, 404, "NotFound")
        self.issued += 1
        seconds = self.granted_seconds or body["spec"]["expirationSeconds"]
        expiry = self.clock.wall() + timedelta(seconds=seconds)
        return {**body, "status": {"token": f"{name}-{self.issued}",
                                   "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def root(clock: FakeClock) -> FakeRoot:
    return FakeRoot(clock)


def source(root: FakeRoot, clock: FakeClock, name: str = "deployment-controller") -> ServiceAccountTokenSource:
    return ServiceAccountTokenSource(root, name, clock=clock)  # type: ignore[arg-type]


async def test_first_token_creates_the_missing_service_account(root: FakeRoot, clock: FakeClock) -> None:
    assert await source(root, clock).token() == "deployment-controller-1"
    assert root.calls == [("get", "deployment-controller"), ("create", "deployment-controller"),
                          ("token", "deployment-controller")]
    assert ("kube-system", "deployment-controller") in root.accounts


async def test_existing_service_account_is_used_as_is(root: FakeRoot, clock: FakeClock) -> None:
    root.accounts.add(("kube-system", "job-controller"))
    await source(root, clock, "job-controller").token()
    assert root.calls == [("get", "job-controller"), ("token", "job-controller")]


async def test_token_is_renewed_at_80_percent_of_its_lifetime(root: FakeRoot, clock: FakeClock) -> None:
    tokens = source(root, clock)
    first = await tokens.token()
    await clock.advance(0.8 * 3600 - 1)
    assert await tokens.token() == first and root.issued == 1
    await clock.advance(1)
    assert await tokens.token() != first and root.issued == 2
    # The next renewal counts from the new token's issue.
    await clock.advance(0.8 * 3600 - 1)
    assert root.issued == 2 and not tokens.needs_refresh()


async def test_a_shorter_token_than_asked_is_renewed_earlier(root: FakeRoot, clock: FakeClock) -> None:
    root.granted_seconds = 600
    tokens = source(root, clock)
    await tokens.token()
    await clock.advance(479)
    assert not tokens.needs_refresh()
    await clock.advance(1)
    assert tokens.needs_refresh()


async def test_failed_renewal_keeps_a_valid_token_then_fails_once_expired(root: FakeRoot, clock: FakeClock) -> None:
    tokens = source(root, clock)
    first = await tokens.token()
    root.fail_token_requests = True
    await clock.advance(0.9 * 3600)
    assert await tokens.token() == first
    await clock.advance(0.1 * 3600)
    with pytest.raises(ApiError):
        await tokens.token()
    root.fail_token_requests = False
    assert await tokens.token() == "deployment-controller-2"


async def test_deleted_service_account_is_made_again(root: FakeRoot, clock: FakeClock) -> None:
    tokens = source(root, clock)
    await tokens.token()
    root.accounts.clear()  # someone deleted it; the old token now fails authentication anyway
    await clock.advance(0.8 * 3600)
    assert await tokens.token() == "deployment-controller-2"
    assert ("kube-system", "deployment-controller") in root.accounts


async def test_concurrent_requests_share_one_token_request(root: FakeRoot, clock: FakeClock) -> None:
    tokens = source(root, clock)
    got = await asyncio.gather(*(tokens.token() for _ in range(5)))
    assert set(got) == {"deployment-controller-1"}
    assert [c for c in root.calls if c[0] == "token"] == [("token", "deployment-controller")]


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A plain-HTTP server that notes each request's Authorization header."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"kind": "Status"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_built_client_sends_the_current_token_not_the_certificate(
        echo_server: tuple[str, list[str]], clock: FakeClock) -> None:
    url, seen = echo_server
    root = FakeRoot(clock, ClientConfig(server=url, ca_data=b"ca", client_cert_data=b"cert", client_key_data=b"key"))
    builder = ServiceAccountClientBuilder(root, clock=clock)  # type: ignore[arg-type]
    try:
        client = builder.client_for("replicaset-controller")
        assert builder.client_for("replicaset-controller") is client
        assert client.config.client_cert_data is None and client.config.client_key_data is None
        assert (client.config.server, client.config.ca_data) == (url, b"ca")
        assert client.field_manager == root.field_manager
        await client.request("GET", "/api")
        await clock.advance(0.8 * 3600)
        await client.request("GET", "/api")
        assert seen == ["Bearer replicaset-controller-1", "Bearer replicaset-controller-2"]
    finally:
        await builder.close()


class StaticBuilder:
    """Hands out one marker client per service account."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.closed = False

    def client_for(self, service_account: str) -> Client:
        return self.clients.setdefault(service_account, Client(ClientConfig(server="http://sa")))

    async def close(self) -> None:
        self.closed = True


async def test_manager_gives_each_controller_its_accounts_client() -> None:
    manager_client = Client(ClientConfig(server="http://manager"))
    builder = StaticBuilder()
    ctx = ControllerContext(manager_client, SharedInformerFactory(manager_client), client_builder=builder)
    seen: dict[str, ControllerContext] = {}

    def capture(key: str, service_account: str = "") -> ControllerSpec:
        def construct(c: ControllerContext) -> None:
            seen[key] = c
        return ControllerSpec(construct, service_account=service_account)

    registry = {"a": capture("a-controller", "a-controller"), "b": capture("b-controller", "b-controller"),
                "own": capture("own")}
    ControllerManager(ctx, ["a", "b", "own"], registry)
    assert seen["a-controller"].client is builder.clients["a-controller"]
    assert seen["b-controller"].client is builder.clients["b-controller"]
    assert seen["own"].client is manager_client  # no service account: the manager's own
    assert seen["a-controller"].informers is ctx.informers  # informers stay the manager's
    await ctx.stop()
    assert builder.closed


def test_without_the_flag_controllers_share_the_managers_client() -> None:
    client = Client(ClientConfig(server="http://manager"))
    ctx = ControllerContext(client, SharedInformerFactory(client))
    assert ctx.for_controller("deployment-controller") is ctx
    assert parse_args([]).use_service_account_credentials is False
    assert parse_args(["--use-service-account-credentials"]).use_service_account_credentials is True
    assert parse_args(["--use-service-account-credentials=false"]).use_service_account_credentials is False


@pytest.mark.parametrize("minor", [29, 37])
def test_every_controller_acts_as_an_account_with_a_bootstrap_role(minor: int) -> None:
    # Cluster-wide controller roles, plus the namespaced ones (bootstrap signer, token cleaner).
    bindings = [*controller_role_bindings(minor), *namespace_role_bindings(minor)]
    bound = {b["subjects"][0]["name"]: b["roleRef"]["name"] for b in bindings
             if b["subjects"][0].get("kind") == "ServiceAccount"}
    for name, spec in REGISTRY.items():
        assert spec.service_account, f"{name} has no service account"
        assert bound.get(spec.service_account) == f"system:controller:{spec.service_account}", name
