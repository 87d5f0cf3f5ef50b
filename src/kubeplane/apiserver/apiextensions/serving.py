"""Serve the resources CustomResourceDefinitions define, following the CRDs through a watch.

Every API server replica runs one ``CustomResourceServing``. For each CRD it sees it keeps the
names status current (NamesAccepted, Established), and once the names are accepted it serves
every served version: one storage (a watch cache over ``/registry/<group>/<plural>/``) per CRD,
versions other than the storage version reading and writing through it with only apiVersion
rewritten (the ``None`` conversion) or through the CRD's conversion webhook (``Webhook``: every
version, the storage one included, since objects stored under an older version are converted
too). A CRD being deleted is marked Terminating, its objects are deleted (read through the storage
version, so a broken webhook cannot block it), then its clean-up finalizer is removed and the
resource stops being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.webhook.client import WebhookClient
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.conversion import ConvertingStorage
from kubeplane.apiserver.registry.conversion.conversion import Conversion
from kubeplane.apiserver.registry.registry import Registry
from kubeplane.apiserver.registry.store import DeleteOptions, Store, now_rfc3339
from kubeplane.apiserver.registry.strategy import StatusStrategy
from kubeplane.catalog import ResourceInfo, SubresourceInfo, storage_version_hash
from kubeplane.catalog.resources import ALL_VERBS
from kubeplane.machinery import errors
from kubeplane.machinery.printers.table import PRINTERS
from kubeplane.machinery.schema import Schemas
from kubeplane.storage import interface as st

from . import names, naming
from .conversion_storage import WebhookConversion, WebhookConvertingStorage
from .conversion_webhook import WebhookConverter
from .handler import CustomResourceHandler
from .printing import printer_for_columns
from .strategy import CustomResourceStrategy

log = logging.getLogger(__name__)
JSON = dict[str, Any]

_INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_SCALE = SubresourceInfo("Scale", "autoscaling", "v1")


@dataclass
class ServedCRD:
    """What one CRD contributes while it is served."""

    crd: JSON
    fingerprint: Any
    storage: st.Storage
    handlers: dict[tuple[str, str, str], CustomResourceHandler] = field(default_factory=dict)

    @property
    def resources(self) -> list[ResourceInfo]:
        return [h.info for h in self.handlers.values()]


def resource_infos(crd: JSON) -> list[tuple[ResourceInfo, JSON]]:
    """(ResourceInfo, version entry) for each served version, in version priority order."""
    spec = names.spec(crd)
    group = str(spec.get("group") or "")
    accepted = names.accepted_names(crd) or names.Names.of(spec.get("names"))
    storage = names.storage_version(crd) or {}
    out = []
    for version in names.served_versions(crd):
        subresources_spec = version.get("subresources") or {}
        subresources: dict[str, SubresourceInfo] = {}
        if "status" in subresources_spec:
            subresources["status"] = SubresourceInfo(accepted.kind)
        if "scale" in subresources_spec:
            subresources["scale"] = _SCALE
        info = ResourceInfo(
            group=group, version=str(version["name"]), resource=accepted.plural, kind=accepted.kind,
            list_kind=accepted.list_kind, singular=accepted.singular,
            namespaced=spec.get("scope") == "Namespaced", verbs=ALL_VERBS,
            short_names=accepted.short_names, categories=accepted.categories, subresources=subresources,
            storage_version_hash=storage_version_hash(group, str(storage.get("name", "")), accepted.kind))
        out.append((info, version))
    return out


def webhook_conversion(crd: JSON) -> JSON | None:
    """``spec.conversion.webhook`` when the CRD converts through a webhook, else None."""
    conversion = names.spec(crd).get("conversion") or {}
    if conversion.get("strategy") != "Webhook":
        return None
    webhook = conversion.get("webhook")
    return webhook if isinstance(webhook, dict) else {}


def _api_version_rewriter(group_version: str) -> Callable[[JSON], JSON]:
    def rewrite(obj: JSON) -> JSON:
        if "apiVersion" not in obj:
            return obj  # a watch-cache projection: nothing version-specific in it
        return {**obj, "apiVersion": group_version}
    return rewrite


class CustomResourceServing:
    def __init__(self, registry: Registry, handlers: dict[tuple[str, str, str], Any], schemas: Schemas) -> None:
        """``handlers`` is the API server's routing table; served versions are added to it and removed."""
        self.registry = registry
        self.handlers = handlers
        self.schemas = schemas
        crd_store = registry.store(names.GROUP, "v1", "customresourcedefinitions")
        assert crd_store is not None, "the catalog serves apiextensions.k8s.io/v1"
        self.crd_store: Store = crd_store
        self.crds: dict[str, JSON] = {}
        self.served: dict[str, ServedCRD] = {}
        # Bumped whenever the served set changes, so discovery and OpenAPI rebuild their documents.
        self.generation = 0
        self._task: asyncio.Task[None] | None = None
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        # Conversion webhooks are dialled as admission webhooks are (url or service, caBundle).
        self.webhook_client = WebhookClient(ClusterObjects(registry.stores))

    # -- what is served --------------------------------------------------------------------------
    def resources(self) -> list[ResourceInfo]:
        return [info for served in self.served.values() for info in served.resources]

    def served_crds(self) -> Iterator[JSON]:
        for served in self.served.values():
            yield served.crd

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        synced = asyncio.Event()
        self._task = asyncio.create_task(self._follow(synced), name="crd serving")
        await synced.wait()

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._cleanups.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for name in list(self.served):
            await self._unserve(name)
        await self.webhook_client.close()

    async def _follow(self, synced: asyncio.Event) -> None:
        while True:
            try:
                watcher = await self.crd_store.watch(RequestContext(), st.WatchOptions(
                    resource_version="", send_initial_events=True, allow_bookmarks=True))
                try:
                    async for event in watcher:
                        if event.type == st.BOOKMARK:
                            annotations = event.object.get("metadata", {}).get("annotations") or {}
                            if annotations.get(_INITIAL_EVENTS_END) == "true":
                                synced.set()
                            continue
                        await self._handle(event)
                finally:
                    await watcher.stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("CRD watch ended: %r", exc)
            await asyncio.sleep(0.2)

    async def _handle(self, event: st.WatchEvent) -> None:
        crd = event.object
        name = crd.get("metadata", {}).get("name", "")
        if event.type == st.DELETED:
            self.crds.pop(name, None)
            await self._unserve(name)
            return
        self.crds[name] = crd
        try:
            await self._reconcile(name, crd)
        except Exception:  # one bad CRD must not stop serving the others
            log.exception("cannot reconcile CRD %s", name)

    # -- reconciling one CRD ----------------------------------------------------------------------
    async def _reconcile(self, name: str, crd: JSON) -> None:
        if crd["metadata"].get("deletionTimestamp"):
            served = self.served.get(name)
            if served is not None:
                for handler in served.handlers.values():
                    handler.terminating = True
            if names.CLEANUP_FINALIZER in (crd["metadata"].get("finalizers") or ()) and name not in self._cleanups:
                self._cleanups[name] = asyncio.create_task(self._cleanup(name), name=f"crd cleanup {name}")
            return
        others = [c for n, c in self.crds.items() if n != name]
        status = naming.desired_status(crd, others, now_rfc3339())
        if status != crd.get("status"):
            await self._write_status(name, lambda current: naming.desired_status(
                current, [c for n, c in self.crds.items() if n != name], now_rfc3339()))
            return  # the write comes back as an event
        if names.is_true(crd, names.ESTABLISHED) and names.is_true(crd, names.NAMES_ACCEPTED):
            await self._serve(name, crd)

    async def _write_status(self, name: str, compute: Callable[[JSON], JSON]) -> None:
        async def produce(current: JSON | None) -> JSON:
            if current is None:
                raise errors.not_found(names.GROUP, "customresourcedefinitions", name)
            updated = copy.deepcopy(current)
            updated["status"] = compute(current)
            return updated

        ctx = RequestContext(user="system:apiserver", field_manager="kube-apiserver", subresource="status")
        try:
            await self.crd_store.update(ctx, name, produce, StatusStrategy(self.crd_store.strategy))
        except errors.StatusError as exc:
            if exc.code not in (404, 409):
                raise
            # Another replica wrote first or the CRD is gone: the next event brings the new state.

    async def _serve(self, name: str, crd: JSON) -> None:
        fingerprint = (copy.deepcopy(names.spec(crd)), copy.deepcopy((crd.get("status") or {}).get("acceptedNames")))
        served = self.served.get(name)
        if served is not None and served.fingerprint == fingerprint:
            served.crd = crd
            return
        infos = resource_infos(crd)
        if not infos:
            await self._unserve(name)
            return
        storage_info = infos[0][0]
        storage_version = str((names.storage_version(crd) or {}).get("name", ""))
        if served is None:
            key_root = f"{self.registry.config.key_prefix}/{storage_info.group}/{storage_info.resource}"
            storage = self.registry.storage_for(key_root + "/", storage_info)
            starter = getattr(storage, "start", None)
            if starter is not None:
                await starter()
            served = ServedCRD(crd, fingerprint, storage)
        else:
            self._remove_handlers(served)
            served.crd, served.fingerprint = crd, fingerprint
        self.served[name] = served
        for info, version in infos:
            self._add_handler(served, info, version, storage_version)
        self.generation += 1
        log.info("serving %s (%s)", name, ", ".join(i.version for i, _ in infos))

    def _add_handler(self, served: ServedCRD, info: ResourceInfo, version: JSON, storage_version: str) -> None:
        schema = names.open_api_schema(version) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        subresources = version.get("subresources") or {}
        strategy = CustomResourceStrategy(info, self.registry.catalog.minor, schema, "status" in subresources)
        storage: st.Storage = served.storage
        webhook = webhook_conversion(served.crd)
        if webhook is not None:
            converter = WebhookConverter(self.webhook_client, webhook)
            storage = WebhookConvertingStorage(served.storage, WebhookConversion(
                converter, info.group_version, f"{info.group}/{storage_version}"))
        elif info.version != storage_version:
            storage_gv = f"{info.group}/{storage_version}"
            storage = ConvertingStorage(served.storage, Conversion(
                info.group, storage_version, info.resource,
                to_served=_api_version_rewriter(info.group_version), to_storage=_api_version_rewriter(storage_gv)))
        key_root = f"{self.registry.config.key_prefix}/{info.group}/{info.resource}"
        store = self.registry.build_store(info, strategy, storage, key_root)
        status = StatusStrategy(strategy) if "status" in subresources else None
        handler = CustomResourceHandler(info, store, self.schemas, schema, status, subresources.get("scale"),
                                        served.crd["metadata"]["name"])
        # Updates track field ownership (managedFields) against the CRD's schema, as for built-ins.
        store.schema_node = handler.pruning
        key = (info.group, info.version, info.resource)
        served.handlers[key] = handler
        self.handlers[key] = handler
        self.registry.add_store(store)
        PRINTERS[(info.group, info.resource)] = printer_for_columns(version.get("additionalPrinterColumns"))

    def _remove_handlers(self, served: ServedCRD) -> None:
        for key, handler in served.handlers.items():
            if self.handlers.get(key) is handler:
                del self.handlers[key]
            self.registry.remove_store(key)
            PRINTERS.pop((key[0], key[2]), None)
        served.handlers.clear()

    async def _unserve(self, name: str) -> None:
        served = self.served.pop(name, None)
        if served is None:
            return
        self._remove_handlers(served)
        closer = getattr(served.storage, "close", None)
        if closer is not None:
            await closer()
        self.generation += 1
        log.info("no longer serving %s", name)

    # -- deletion ---------------------------------------------------------------------------------
    async def _cleanup(self, name: str) -> None:
        try:
            await self._write_status(name, lambda current: _terminating(current, "InstanceDeletionInProgress",
                                                                       "CustomResource deletion is in progress"))
            served = self.served.get(name)
            if served is not None:
                await _delete_all(_storage_version_handler(served).store)
            await self._remove_finalizer(name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("clean-up of CRD %s failed: %r", name, exc)
            message = f"could not delete instances: {exc}"
            await self._write_status(name, lambda current: _terminating(current, "InstanceDeletionFailed", message))
        finally:
            self._cleanups.pop(name, None)

    async def _remove_finalizer(self, name: str) -> None:
        async def produce(current: JSON | None) -> JSON:
            if current is None:
                raise errors.not_found(names.GROUP, "customresourcedefinitions", name)
            updated = copy.deepcopy(current)
            remaining = [f for f in updated["metadata"].get("finalizers") or () if f != names.CLEANUP_FINALIZER]
            updated["metadata"]["finalizers"] = remaining
            return updated

        with contextlib.suppress(errors.StatusError):
            await self.crd_store.update(RequestContext(user="system:apiserver"), name, produce)


def _storage_version_handler(served: ServedCRD) -> CustomResourceHandler:
    """The storage version's handler when it is served (it reads objects without a conversion
    webhook, so a broken webhook cannot block the clean-up), else the first one."""
    storage = str((names.storage_version(served.crd) or {}).get("name", ""))
    return next((h for h in served.handlers.values() if h.info.version == storage),
                next(iter(served.handlers.values())))


def _terminating(crd: JSON, reason: str, message: str) -> JSON:
    status = dict(crd.get("status") or {})
    conditions = [c for c in names.conditions(crd) if c.get("type") != names.TERMINATING]
    conditions.append({"type": names.TERMINATING, "status": "True", "lastTransitionTime": now_rfc3339(),
                       "reason": reason, "message": message})
    status["conditions"] = conditions
    return status


async def _delete_all(store: Store) -> None:
    """Delete every object of a custom resource; objects with finalizers are waited for."""
    for _attempt in range(600):
        listed = await store.list(RequestContext(), st.ListOptions(resource_version=""))
        if not listed.items:
            return
        for obj in listed.items:
            meta = obj["metadata"]
            ctx = RequestContext(namespace=meta.get("namespace", ""), user="system:apiserver")
            with contextlib.suppress(errors.StatusError):
                await store.delete(ctx, meta["name"], DeleteOptions())
        await asyncio.sleep(0.5)
    raise RuntimeError("objects with finalizers are still present")


__all__ = ["CustomResourceServing", "ServedCRD", "resource_infos"]
