"""An in-memory API for controller unit tests, and a context wired to it with a fake clock.

``FakeApi`` stands in for ``kubeplane.client.Client``: it keeps objects per resource, assigns
UIDs, resourceVersions and generated names, answers PUT with a stale resourceVersion with a
Conflict, and records every write. Controllers read informer caches, so ``feed`` copies the
stored objects into the shared informers — the test decides when the "watch" catches up.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubeplane.client import (
    AlreadyExists,
    ApiError,
    Conflict,
    FakeClock,
    NotFound,
    Resource,
    SharedInformerFactory,
)
from kubeplane.client.resource import resource_path
from kubeplane.controllers.controller import ControllerContext
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _status_error(cls: type, code: int, reason: str, message: str) -> Exception:
    return cls(code, reason, message, {"kind": "Status", "code": code, "reason": reason, "message": message})


class FakeApi:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.objects: dict[tuple[Resource, str | None, str], JSON] = {}
        self.writes: list[tuple[str, str, str]] = []  # (verb, resource, name)
        self.create_limit: dict[str, int] = {}  # resource -> creates that succeed before the rest fail
        self.discovery: dict[str, JSON] = {}
        self._versions = itertools.count(1)
        self._uids = itertools.count(1)
        self._names = itertools.count(1)
        self._creates: dict[str, int] = {}

    # -- helpers for tests --------------------------------------------------------------------

    def all(self, resource: Resource, namespace: str | None = None) -> list[JSON]:
        return [clone(o) for (r, ns, _), o in sorted(self.objects.items(), key=lambda kv: kv[0][2])
                if r == resource and (namespace is None or ns == namespace)]

    def put(self, resource: Resource, obj: JSON) -> JSON:
        """Store ``obj`` as if created by someone else (no write is recorded)."""
        stored = self._stamp(resource, clone(obj))
        self.objects[(resource, stored["metadata"].get("namespace"), stored["metadata"]["name"])] = stored
        return clone(stored)

    def feed(self, informers: SharedInformerFactory, *resources: Resource) -> None:
        for resource in resources:
            informers.informer_for(resource).indexer.replace(self.all(resource))

    def count(self, verb: str, resource: str) -> int:
        return sum(1 for v, r, _ in self.writes if v == verb and r == resource)

    def _stamp(self, resource: Resource, obj: JSON) -> JSON:
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = f"{meta.get('generateName', '')}{next(self._names):05d}"
        meta.setdefault("uid", f"uid-{next(self._uids)}")
        created = self.clock.wall() + timedelta(seconds=next(self._versions))
        meta.setdefault("creationTimestamp", created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self._versions))
        obj.setdefault("kind", resource.kind)
        return obj

    def _key(self, resource: Resource, name: str, namespace: str | None) -> tuple[Resource, str | None, str]:
        return (resource, namespace if resource.namespaced else None, name)

    def _existing(self, resource: Resource, name: str, namespace: str | None) -> JSON:
        obj = self.objects.get(self._key(resource, name, namespace))
        if obj is None:
            raise _status_error(NotFound, 404, "NotFound", f'{resource.resource} "{name}" not found')
        return obj

    # -- the Client surface the controllers use -------------------------------------------------

    async def get(self, resource: Resource, name: str, namespace: str | None = None, **_: Any) -> JSON:
        return clone(self._existing(resource, name, namespace))

    async def list_all(self, resource: Resource, namespace: str | None = None, *_: Any, **__: Any
                       ) -> tuple[list[JSON], str]:
        return self.all(resource, namespace), str(next(self._versions))

    async def create(self, resource: Resource, body: JSON, namespace: str | None = None, **_: Any) -> JSON:
        obj = clone(body)
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            meta["namespace"] = namespace or meta.get("namespace")
        done = self._creates.get(resource.resource, 0)
        if done >= self.create_limit.get(resource.resource, done + 1):
            raise _status_error(ApiError, 500, "InternalError", "injected create failure")
        if resource.resource == "events":
            meta["name"] = f"{meta['name']}.{next(self._names)}"  # the fake clock stands still: keep names apart
        if meta.get("name") and self._key(resource, meta["name"], meta.get("namespace")) in self.objects:
            raise _status_error(AlreadyExists, 409, "AlreadyExists", f'{resource.resource} "{meta["name"]}" '
                                "already exists")
        self._creates[resource.resource] = done + 1
        stored = self.put(resource, obj)
        self.writes.append(("create", resource.resource, stored["metadata"]["name"]))
        return stored

    async def update(self, resource: Resource, body: JSON, namespace: str | None = None,
                     subresource: str | None = None, **_: Any) -> JSON:
        meta = body["metadata"]
        current = self._existing(resource, meta["name"], namespace or meta.get("namespace"))
        if meta.get("resourceVersion") and meta["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise _status_error(Conflict, 409, "Conflict", "the object has been modified")
        new = clone(body)
        if subresource == "status":
            new = {**clone(current), "status": new.get("status")}
            new["metadata"]["annotations"] = meta.get("annotations")
        elif subresource == "finalize":
            new = {**clone(current), "spec": new.get("spec")}
        else:
            new["status"] = clone(current.get("status"))
            if new.get("spec") != current.get("spec"):
                new["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = str(next(self._versions))
        self.objects[self._key(resource, meta["name"], current["metadata"].get("namespace"))] = new
        self.writes.append((f"update/{subresource}" if subresource else "update", resource.resource, meta["name"]))
        return clone(new)

    async def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None,
                    **_: Any) -> JSON:
        current = self._existing(resource, name, namespace)
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise _status_error(Conflict, 409, "Conflict", "the object has been modified")
        new = merge_patch(current, patch)
        new["metadata"]["resourceVersion"] = str(next(self._versions))
        self.objects[self._key(resource, name, namespace)] = new
        self.writes.append(("patch", resource.resource, name))
        return clone(new)

    async def delete(self, resource: Resource, name: str, namespace: str | None = None, **_: Any) -> JSON:
        obj = self._existing(resource, name, namespace)
        del self.objects[self._key(resource, name, namespace)]
        self.writes.append(("delete", resource.resource, name))
        return obj

    async def request(self, method: str, path: str, params: Any = None, body: Any = None, **_: Any) -> JSON:
        if method == "GET" and path in self.discovery:
            return clone(self.discovery[path])
        if method == "DELETE":
            for (resource, namespace, name) in list(self.objects):
                if resource_path(resource, namespace) == path:
                    await self.delete(resource, name, namespace)
            return {"kind": "Status", "status": "Success"}
        raise _status_error(NotFound, 404, "NotFound", f"no fake for {method} {path}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall_start=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def api(clock: FakeClock) -> FakeApi:
    return FakeApi(clock)


@pytest.fixture
async def ctx(api: FakeApi, clock: FakeClock) -> AsyncIterator[ControllerContext]:
    context = ControllerContext(api, SharedInformerFactory(api), clock=clock, root_ca=b"CA PEM")  # type: ignore[arg-type]
    yield context
    await context.stop()
