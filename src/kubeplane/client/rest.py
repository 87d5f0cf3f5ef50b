"""The REST client every component uses to reach the API server.

Transport choice (measured, not guessed): a thin aiohttp client — HTTP/1.1 keep-alive over one
pooled TLS connector, bodies decoded with orjson into plain dicts (objects stay exactly as on
the wire), and watch streams split on newlines as chunks arrive. The official ``kubernetes``
client is synchronous (a thread per watch) and turns every object into generated model classes
and back; ``kubernetes_asyncio``/``lightkube``/``kr8s`` are not installable here and would add
model layers we do not want. Listing 1,000 ConfigMaps from our API server on the 2-core dev box
(one run, best of 5 each, warm connections; tests/integration/client/test_client_transport_measure.py
with KUBEPLANE_CLIENT_MEASURE=1):

    official client, typed models (list_namespaced_config_map):   0.015 s
    official client, _preload_content=False + json.loads:          0.006 s
    this client (aiohttp + orjson):                                0.006 s

With raw JSON both transports are as fast as the server; the official client's model layer
costs ~2.5x on top (more for richer kinds than ConfigMap), and it is synchronous: every call
and every watch would block the event loop or need a thread. A thin async client costs the
same as the floor and keeps objects as the dicts the rest of kubeplane works with.

Retries: connection errors, 429 and 5xx are retried with backoff for idempotent verbs (GET,
PUT, DELETE — a PUT carries resourceVersion, so a replay conflicts rather than double-applies);
429 is retried for every verb since the server refused it before doing anything. A
``Retry-After`` header (or ``details.retryAfterSeconds``) sets the wait.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from kubeplane.client.backoff import Backoff
from kubeplane.client.config import ClientConfig
from kubeplane.client.errors import ApiError, TooManyRequests, error_from_status
from kubeplane.client.resource import Resource, resource_path

log = logging.getLogger(__name__)

JSON = dict[str, Any]

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRYABLE_CODES = frozenset({429, 500, 502, 503, 504})

PATCH_CONTENT_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}

# Watch events: ADDED, MODIFIED, DELETED, BOOKMARK, ERROR (object is then a Status).
ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


@dataclass(frozen=True)
class WatchEvent:
    type: str
    object: JSON


def user_agent(component: str, version: str = "") -> str:
    if not version:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version
        try:
            version = package_version("kubeplane")
        except PackageNotFoundError:
            version = "0.0.0"
    return f"kubeplane-{component}/{version}"


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _query(params: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class Client:
    """An async API client; use as ``async with Client(config, component="scheduler") as client``."""

    def __init__(self, config: ClientConfig, component: str = "client", field_manager: str | None = None,
                 max_retries: int = 5, backoff: Backoff | None = None, connection_limit: int = 100,
                 request_timeout: float = 60.0) -> None:
        self.config = config
        self.user_agent = user_agent(component)
        self.field_manager = field_manager or f"kubeplane-{component}"
        self.max_retries = max_retries
        self._backoff_template = backoff or Backoff(initial=0.1, maximum=5.0)
        self._connection_limit = connection_limit
        self._timeout = request_timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.config.ssl_context() or False,
                                             limit=self._connection_limit, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(
                connector=connector, json_serialize=lambda o: orjson.dumps(o).decode(),
                headers={"User-Agent": self.user_agent, "Accept": "application/json"})
        return self._session

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        source = self.config.token_source
        token = await source.token() if source is not None else self.config.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json") -> JSON:
        """One API call with retries; returns the decoded JSON body or raises an ``ApiError``."""
        if isinstance(body, str):
            data: bytes | None = body.encode()  # e.g. an apply patch written as YAML
        else:
            data = body if isinstance(body, bytes) or body is None else orjson.dumps(body)
        backoff = replace(self._backoff_template)
        backoff.reset()
        while True:
            try:
                return await self._request_once(method, path, params or {}, data,
                                                content_type if data is not None else None)
            except ApiError as err:
                retryable = err.code in RETRYABLE_CODES and (method in IDEMPOTENT or isinstance(err, TooManyRequests))
                if not retryable or backoff.attempts >= self.max_retries:
                    raise
                delay = backoff.next_delay()  # also counts the attempt
                if err.retry_after is not None:
                    delay = err.retry_after  # the server knows best when to come back
            except (aiohttp.ClientConnectionError, TimeoutError) as err:
                if method not in IDEMPOTENT or backoff.attempts >= self.max_retries:
                    raise
                delay = backoff.next_delay()
                log.debug("%s %s: %r, retrying in %.2fs", method, path, err, delay)
            await asyncio.sleep(delay)

    async def _request_once(self, method: str, path: str, params: Mapping[str, Any], data: bytes | None,
                            content_type: str | None) -> JSON:
        session = self._session_for_loop()
        async with session.request(method, self.config.server + path, params=_query(params), data=data,
                                   headers=await self._headers(content_type),
                                   timeout=aiohttp.ClientTimeout(total=self._timeout)) as response:
            raw = await response.read()
            if response.status >= 400:
                raise self._error(response, raw)
            return orjson.loads(raw) if raw else {}

    @staticmethod
    def _error(response: aiohttp.ClientResponse, raw: bytes) -> ApiError:
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            decoded = None
        return error_from_status(response.status, decoded, raw.decode(errors="replace"), _retry_after(response))

    # -- verbs ---------------------------------------------------------------------------------

    async def get(self, resource: Resource, name: str, namespace: str | None = None,
                  subresource: str | None = None, resource_version: str | None = None) -> JSON:
        return await self.request("GET", resource_path(resource, namespace, name, subresource),
                                  {"resourceVersion": resource_version})

    async def list(self, resource: Resource, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None, resource_version_match: str | None = None) -> JSON:
        """One page of a list (``metadata.continue`` says whether there is more)."""
        params = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": limit,
                  "continue": continue_, "resourceVersion": resource_version,
                  "resourceVersionMatch": resource_version_match}
        return await self.request("GET", resource_path(resource, namespace), params)

    async def list_all(self, resource: Resource, namespace: str | None = None,
                       label_selector: str | None = None, field_selector: str | None = None,
                       page_size: int = 500, resource_version: str | None = None) -> tuple[builtins.list[JSON], str]:
        """Every item over as many pages as it takes; returns (items, list resourceVersion)."""
        items: builtins.list[JSON] = []
        continue_: str | None = None
        while True:
            page = await self.list(resource, namespace, label_selector, field_selector, page_size, continue_,
                                   resource_version if continue_ is None else None)
            # Servers leave TypeMeta out of list items; informers and event recorders want it.
            kind = str(page.get("kind", "")).removesuffix("List")
            for item in page.get("items") or []:
                item.setdefault("apiVersion", page.get("apiVersion", ""))
                item.setdefault("kind", kind)
                items.append(item)
            metadata = page.get("metadata") or {}
            continue_ = metadata.get("continue")
            if not continue_:
                return items, str(metadata.get("resourceVersion", ""))

    async def create(self, resource: Resource, body: JSON, namespace: str | None = None,
                     subresource: str | None = None, name: str | None = None, dry_run: bool = False) -> JSON:
        namespace = namespace or (body.get("metadata") or {}).get("namespace")
        path = resource_path(resource, namespace, name, subresource)
        return await self.request("POST", path, self._write_params(dry_run), body)

    async def update(self, resource: Resource, body: JSON, namespace: str | None = None,
                     subresource: str | None = None, dry_run: bool = False) -> JSON:
        metadata = body.get("metadata") or {}
        path = resource_path(resource, namespace or metadata.get("namespace"), metadata["name"], subresource)
        return await self.request("PUT", path, self._write_params(dry_run), body)

    async def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None,
                    patch_type: str = "merge", subresource: str | None = None, force: bool | None = None,
                    dry_run: bool = False) -> JSON:
        """PATCH with ``patch_type`` json, merge, strategic or apply (server-side apply)."""
        params = self._write_params(dry_run)
        if patch_type == "apply":
            params["force"] = force
        return await self.request("PATCH", resource_path(resource, namespace, name, subresource), params,
                                  patch, PATCH_CONTENT_TYPES[patch_type])

    async def delete(self, resource: Resource, name: str, namespace: str | None = None,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: JSON | None = None, dry_run: bool = False) -> JSON:
        options: JSON = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        if dry_run:
            options["dryRun"] = ["All"]
        return await self.request("DELETE", resource_path(resource, namespace, name), body=options)

    def _write_params(self, dry_run: bool) -> dict[str, Any]:
        return {"fieldManager": self.field_manager, "dryRun": "All" if dry_run else None}

    async def watch(self, resource: Resource, namespace: str | None = None, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    allow_bookmarks: bool = True, timeout_seconds: int | None = None,
                    name: str | None = None) -> AsyncGenerator[WatchEvent, None]:
        """Stream watch events until the server ends the watch; an error status at the start raises
        (``Expired`` for a 410 from servers that answer so).

        ``ERROR`` events (a Status object, e.g. code 410 mid-stream) are yielded for the caller to
        act on: an informer relists, a simple caller may raise ``error_from_status``. A caller
        that stops early should wrap the generator in ``contextlib.aclosing`` so the stream's
        connection is released at once.
        """
        if name:
            field_selector = ",".join(filter(None, [field_selector, f"metadata.name={name}"]))
        params = _query({"watch": True, "resourceVersion": resource_version, "labelSelector": label_selector,
                         "fieldSelector": field_selector, "allowWatchBookmarks": allow_bookmarks,
                         "timeoutSeconds": timeout_seconds})
        session = self._session_for_loop()
        # No total timeout: a watch lasts as long as the server keeps it; sock_connect still bounds set-up.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout)
        async with session.get(self.config.server + resource_path(resource, namespace), params=params,
                               headers=await self._headers(None), timeout=timeout) as response:
            if response.status >= 400:
                raise self._error(response, await response.read())
            try:
                async for line in _lines(response.content):
                    event = orjson.loads(line)
                    yield WatchEvent(event.get("type", ""), event.get("object") or {})
            except BaseException:
                _abort(response)
                raise


def _abort(response: aiohttp.ClientResponse) -> None:
    """Drop the connection of a stream we stop reading: a graceful TLS close would wait for the
    server's close_notify, which a server busy streaming may not send until its next write."""
    connection = response.connection
    if connection is not None and connection.protocol is not None:
        connection.protocol.abort()


async def _lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Newline-delimited records from a chunked body, however the chunks fall."""
    buffer = bytearray()
    async for chunk in stream.iter_any():
        searched = len(buffer)  # only the new bytes can hold the next newline
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", max(start, searched))) >= 0:
            line = bytes(buffer[start:end])
            start = end + 1
            if line.strip():
                yield line
        del buffer[:start]
    if bytes(buffer).strip():
        yield bytes(buffer)
