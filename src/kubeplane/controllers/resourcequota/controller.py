"""The resource quota controller (upstream ``pkg/controller/resourcequota``): each ResourceQuota's
status.hard mirrors spec.hard and status.used is recomputed from the objects in its namespace,
for the resources it limits, honouring its scopes. A quota is recomputed when counted objects of
its namespace change and every ``resync_period`` (5 min, upstream's --resource-quota-sync-period).

Pods, Services, PVCs, ConfigMaps, Secrets and ReplicationControllers are watched; other kinds a
quota counts (``count/deployments.apps``, custom resources) are listed when it is synced.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from kubeplane.client import ApiError, EventHandlers, Informer, Resource, split_key
from kubeplane.client.resource import CONFIGMAPS, PERSISTENTVOLUMECLAIMS, PODS, SECRETS, SERVICES
from kubeplane.controllers.controller import (
    ControllerContext,
    ResourceController,
    is_resync,
    unwrap_tombstone,
)
from kubeplane.controllers.resourcequota.quantity import ZERO, Quantity, add_into, parse_quantity
from kubeplane.controllers.resourcequota.usage import (
    STORAGE_CLASS_SUFFIX,
    pod_matches_scope,
    pod_usage,
    pvc_usage,
    quota_scopes,
    service_usage,
)
from kubeplane.controllers.status_writer import write_status

log = logging.getLogger(__name__)

JSON = dict[str, Any]

RESOURCEQUOTAS = Resource("", "v1", "resourcequotas", kind="ResourceQuota")
REPLICATIONCONTROLLERS = Resource("", "v1", "replicationcontrollers", kind="ReplicationController")

# The quota names each watched kind's evaluator answers for (besides count/<resource>).
POD_NAMES = {"pods", "cpu", "memory", "ephemeral-storage"}
POD_PREFIXES = ("requests.", "limits.")
SERVICE_NAMES = {"services", "services.loadbalancers", "services.nodeports"}
PVC_NAMES = {"persistentvolumeclaims", "requests.storage"}
# Legacy object-count names (upstream counts them like count/<resource>).
LEGACY_COUNTS = {"configmaps": CONFIGMAPS, "secrets": SECRETS, "replicationcontrollers": REPLICATIONCONTROLLERS,
                 "resourcequotas": RESOURCEQUOTAS}


def evaluator_for(name: str) -> str | None:
    """Which evaluator a quota resource name belongs to: pods, services, pvcs, or the object
    count of a resource ("count:<resource>[.<group>]"); None for names nothing computes."""
    if name == "count/pods" or name in POD_NAMES or (name.startswith(POD_PREFIXES) and name != "requests.storage"):
        return "pods"
    if name == "count/services" or name in SERVICE_NAMES:
        return "services"
    if name == "count/persistentvolumeclaims" or name in PVC_NAMES or STORAGE_CLASS_SUFFIX in name:
        return "pvcs"
    if name.startswith("count/"):
        return "count:" + name.removeprefix("count/")
    if name in LEGACY_COUNTS:
        return "count:" + name
    return None


class ResourceQuotaController(ResourceController):
    name = "resourcequota-controller"
    component = "resourcequota-controller"

    def __init__(self, ctx: ControllerContext, resync_period: float = 300.0) -> None:
        super().__init__(ctx)
        self.resync_period = resync_period
        self.quotas = self.informer(RESOURCEQUOTAS, self.enqueue_handlers())
        handlers = EventHandlers(on_add=self._object_changed, on_update=self._object_updated,
                                 on_delete=lambda obj: self._object_changed(unwrap_tombstone(obj)))
        self.watched: dict[str, Informer] = {
            "pods": self.informer(PODS, handlers), "services": self.informer(SERVICES, handlers),
            "persistentvolumeclaims": self.informer(PERSISTENTVOLUMECLAIMS, handlers),
            "configmaps": self.informer(CONFIGMAPS, handlers), "secrets": self.informer(SECRETS, handlers),
            "replicationcontrollers": self.informer(REPLICATIONCONTROLLERS, handlers)}
        self._group_versions: dict[str, str] = {}

    def _object_changed(self, obj: JSON) -> None:
        for quota in self.quotas.list(obj["metadata"].get("namespace")):
            self.enqueue(quota)

    def _object_updated(self, old: JSON, new: JSON) -> None:
        if not is_resync(old, new):
            self._object_changed(new)

    async def run(self, workers: int) -> None:
        await asyncio.gather(super().run(workers), self._resync_forever())

    async def _resync_forever(self) -> None:
        while True:
            await self.clock.sleep(self.resync_period)
            for quota in self.quotas.list():
                self.enqueue(quota)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        quota = self.quotas.get(name, namespace)
        if quota is None or namespace is None:
            return
        hard = {k: canonical_text(v) for k, v in ((quota.get("spec") or {}).get("hard") or {}).items()}
        previous = (quota.get("status") or {}).get("used") or {}
        computed = await self.usage(namespace, quota, set(hard), self.clock.wall())
        used = {k: v for k, v in previous.items() if k in hard}
        used.update({k: str(v) for k, v in computed.items()})
        await write_status(self.client, RESOURCEQUOTAS, quota, {"hard": hard, "used": used},
                           refresh_on_conflict=False)

    async def usage(self, namespace: str, quota: JSON, names: set[str], now: datetime) -> dict[str, Quantity]:
        """Upstream's CalculateUsage: per evaluator that covers some of ``names``, the summed
        usage of the namespace's objects the quota's scopes select (zero when none)."""
        groups: dict[str, set[str]] = {}
        for name in names:
            evaluator = evaluator_for(name)
            if evaluator is not None:
                groups.setdefault(evaluator, set()).add(name)
        scopes = quota_scopes(quota)
        result: dict[str, Quantity] = {}
        for evaluator, wanted in groups.items():
            totals: dict[str, Quantity] = {}
            for obj in await self._objects(evaluator, namespace):
                if scopes and not (evaluator == "pods" and all(pod_matches_scope(obj, s, r) for s, r in scopes)):
                    continue  # only pods have scopes; a scoped quota counts no other kind
                for resource_name, amount in self._usage_of(evaluator, obj, now).items():
                    if resource_name in wanted:
                        add_into(totals, resource_name, amount)
            for resource_name in wanted:
                result[resource_name] = totals.get(resource_name, ZERO)
        return result

    @staticmethod
    def _usage_of(evaluator: str, obj: JSON, now: datetime) -> dict[str, Quantity]:
        if evaluator == "pods":
            return pod_usage(obj, now)
        if evaluator == "services":
            return service_usage(obj)
        if evaluator == "pvcs":
            return pvc_usage(obj)
        counted = evaluator.removeprefix("count:")
        usage = {f"count/{counted}": parse_quantity(1)}
        if counted in LEGACY_COUNTS:
            usage[counted] = parse_quantity(1)
        return usage

    async def _objects(self, evaluator: str, namespace: str) -> list[JSON]:
        kind = {"pods": "pods", "services": "services", "pvcs": "persistentvolumeclaims"}.get(evaluator) \
            or evaluator.removeprefix("count:")
        informer = self.watched.get(kind)
        if informer is not None:
            return informer.list(namespace)
        resource = await self._resource_for(kind)
        if resource is None:
            return []
        items, _ = await self.client.list_all(resource, namespace)
        return items

    async def _resource_for(self, counted: str) -> Resource | None:
        """``deployments.apps`` -> the group's preferred version of that resource (discovery)."""
        resource, _, group = counted.partition(".")
        if not group:
            return RESOURCEQUOTAS if resource == "resourcequotas" else Resource("", "v1", resource)
        if group not in self._group_versions:
            try:
                found = await self.client.request("GET", f"/apis/{group}")
            except ApiError:
                return None
            self._group_versions[group] = str((found.get("preferredVersion") or {}).get("version", ""))
        version = self._group_versions[group]
        return Resource(group, version, resource) if version else None


def canonical_text(value: Any) -> str:
    try:
        return str(parse_quantity(value))
    except ValueError:
        return str(value)
