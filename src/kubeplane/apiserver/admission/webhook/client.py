"""Calling one webhook: where it is (url, or a service reached through its endpoints), TLS trusting
its caBundle, AdmissionReview v1 in and out, and the timeout.

A service reference cannot go through the Service's ClusterIP: the API server runs outside the
cluster network, where no proxy translates it. It is resolved instead to a ready address from the
Service's Endpoints (the port whose name or number matches ``service.port``) and dialled directly,
verifying the certificate for ``<service>.<namespace>.svc``; that works only when the API server
can route to pod addresses.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from kubeplane.apiserver.admission.attributes import Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.webhook.equivalence import GVR, convert

JSON = dict[str, Any]

DEFAULT_TIMEOUT_SECONDS = 10


class CallError(Exception):
    """The webhook could not be called or answered nonsense (failurePolicy decides what follows)."""


@dataclass
class Target:
    url: str
    server_hostname: str | None = None


def review_request(attrs: Attributes, invoked_as: GVR | None = None) -> JSON:
    """The AdmissionReview for a webhook. ``invoked_as`` is the equivalent resource a webhook
    registered for (matchPolicy Equivalent): ``kind``/``resource`` and the objects are then in that
    version, ``requestKind``/``requestResource`` stay the request's own."""
    info = attrs.resource
    request_gvk = {"group": info.group, "version": info.version, "kind": info.kind}
    request_gvr = {"group": info.group, "version": info.version, "resource": info.resource}
    own = GVR(info.group, info.version, info.resource)
    target = invoked_as or own
    request: JSON = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": target.group, "version": target.version, "kind": info.kind},
        "resource": {"group": target.group, "version": target.version, "resource": target.resource},
        "requestKind": request_gvk, "requestResource": request_gvr,
        "name": attrs.name, "operation": attrs.operation,
        "userInfo": {"username": attrs.user.name, "uid": attrs.user.uid, "groups": list(attrs.user.groups),
                     **({"extra": {k: list(v) for k, v in attrs.user.extra.items()}} if attrs.user.extra else {})},
        "object": convert(attrs.object, own, target), "oldObject": convert(attrs.old_object, own, target),
        "dryRun": attrs.dry_run, "options": attrs.options,
    }
    if attrs.subresource:
        request["subResource"] = attrs.subresource
        request["requestSubResource"] = attrs.subresource
    if attrs.namespace:
        request["namespace"] = attrs.namespace
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


class WebhookClient:
    def __init__(self, objects: ClusterObjects) -> None:
        self.objects = objects
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ssl(self, ca_bundle: str | None) -> ssl.SSLContext:
        key = hashlib.sha256((ca_bundle or "").encode()).hexdigest()
        if key not in self._contexts:
            context = ssl.create_default_context()
            if ca_bundle:
                try:
                    pem = base64.b64decode(ca_bundle).decode()
                    context = ssl.create_default_context(cadata=pem)
                except (ValueError, ssl.SSLError) as exc:
                    raise CallError(f"invalid caBundle: {exc}") from exc
            self._contexts[key] = context
        return self._contexts[key]

    async def target(self, client_config: JSON) -> Target:
        if client_config.get("url"):
            return Target(client_config["url"])
        service = client_config.get("service") or {}
        name, namespace = service.get("name", ""), service.get("namespace", "")
        port = int(service.get("port") or 443)
        path = service.get("path") or "/"
        svc = await self.objects.get("", "services", namespace, name)
        if svc is None:
            raise CallError(f'service "{namespace}/{name}" not found')
        port_name = next((p.get("name", "") for p in (svc.get("spec") or {}).get("ports") or ()
                          if p.get("port") == port), None)
        if port_name is None:
            raise CallError(f'service "{namespace}/{name}" has no port {port}')
        endpoints = await self.objects.get("", "endpoints", namespace, name)
        for subset in (endpoints or {}).get("subsets") or ():
            target_port = next((p.get("port") for p in subset.get("ports") or () if p.get("name", "") == port_name),
                               None)
            addresses = subset.get("addresses") or ()
            if target_port and addresses:
                host = addresses[0]["ip"]
                host = f"[{host}]" if ":" in host else host
                return Target(f"https://{host}:{target_port}{path}", f"{name}.{namespace}.svc")
        raise CallError(f'service "{namespace}/{name}" has no ready endpoints')

    async def call(self, webhook: JSON, review: JSON) -> JSON:
        """POST the review; return the response's ``response`` object (uid checked)."""
        client_config = webhook.get("clientConfig") or {}
        timeout = float(webhook.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        target = await self.target(client_config)
        if self._session is None:
            self._session = aiohttp.ClientSession(json_serialize=lambda o: orjson.dumps(o).decode())
        try:
            async with asyncio.timeout(timeout):
                async with self._session.post(
                        target.url, data=orjson.dumps(review), ssl=self._ssl(client_config.get("caBundle")),
                        server_hostname=target.server_hostname,
                        headers={"Content-Type": "application/json", "Accept": "application/json"}) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise CallError(f'Post "{target.url}": HTTP {resp.status}: {body[:200]!r}')
        except TimeoutError as exc:
            raise CallError(f'Post "{target.url}": context deadline exceeded') from exc
        except (aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            raise CallError(f'Post "{target.url}": {exc}') from exc
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise CallError(f"received invalid webhook response: {exc}") from exc
        response = answer.get("response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise CallError("received invalid webhook response: the response is missing")
        if response.get("uid") != review["request"]["uid"]:
            raise CallError(f"expected response.uid=\"{review['request']['uid']}\", got \"{response.get('uid')}\"")
        return response
