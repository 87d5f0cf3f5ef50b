"""Priority: a pod's ``priorityClassName`` resolves to ``spec.priority`` (and preemptionPolicy); a pod
without one gets the global default class, or 0. The two system classes always exist."""

from __future__ import annotations

import logging
from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, UPDATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.machinery import errors

log = logging.getLogger(__name__)
JSON = dict[str, Any]

GROUP = "scheduling.k8s.io"
SYSTEM_CLUSTER_CRITICAL = "system-cluster-critical"
SYSTEM_NODE_CRITICAL = "system-node-critical"
HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_CLASSES = {
    SYSTEM_CLUSTER_CRITICAL: (2 * HIGHEST_USER_PRIORITY,
                              "Used for system critical pods that must run in the cluster, but can be "
                              "moved to another node if necessary."),
    SYSTEM_NODE_CRITICAL: (2 * HIGHEST_USER_PRIORITY + 1000,
                           "Used for system critical pods that must not be moved from their current node."),
}


class Priority:
    name = "Priority"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects

    async def start(self) -> None:
        """Ensure the built-in system classes exist (upstream's API server creates them at start)."""
        store = self.objects.store(GROUP, "priorityclasses")
        if store is None:
            return
        ctx = RequestContext(user="system:apiserver", groups=("system:masters",))
        for name, (value, description) in SYSTEM_CLASSES.items():
            if await self.objects.get(GROUP, "priorityclasses", "", name) is not None:
                continue
            obj = {"apiVersion": store.info.group_version, "kind": "PriorityClass", "metadata": {"name": name},
                   "value": value, "description": description, "preemptionPolicy": "PreemptLowerPriority"}
            try:
                await store.create(ctx, obj)
            except errors.StatusError as exc:
                if exc.code != 409:  # another replica made it first
                    raise

    async def admit(self, attrs: Attributes) -> None:
        if attrs.is_main("", "pods") and attrs.operation == CREATE and attrs.object is not None:
            await self._admit_pod(attrs)

    async def validate(self, attrs: Attributes) -> None:
        if not attrs.is_main(GROUP, "priorityclasses") or attrs.object is None:
            return
        if attrs.operation not in (CREATE, UPDATE):
            return
        obj = attrs.object
        name = obj["metadata"].get("name", "")
        if name.startswith("system-") and name not in SYSTEM_CLASSES:
            raise attrs.forbidden(f"priority class names with 'system-' prefix are reserved for system use only. "
                                  f"error: {name} is not a known system priority class")
        if name in SYSTEM_CLASSES and obj.get("value") != SYSTEM_CLASSES[name][0]:
            raise attrs.forbidden(f"{name} is a known system priority class; value must be {SYSTEM_CLASSES[name][0]}")
        if obj.get("globalDefault"):
            for other in await self.objects.list(GROUP, "priorityclasses"):
                if other.get("globalDefault") and other["metadata"]["name"] != name:
                    raise attrs.forbidden(f"PriorityClass {other['metadata']['name']} is already marked as "
                                          "default. Only one default can exist")

    async def _admit_pod(self, attrs: Attributes) -> None:
        assert attrs.object is not None
        spec = attrs.object.setdefault("spec", {})
        class_name = spec.get("priorityClassName") or ""
        preemption: str | None = None
        if class_name:
            found = await self.objects.get(GROUP, "priorityclasses", "", class_name)
            if found is None:
                raise attrs.forbidden(f"no PriorityClass with name {class_name} was found")
            value = int(found.get("value", 0))
            preemption = found.get("preemptionPolicy")
        else:
            default = next((pc for pc in await self.objects.list(GROUP, "priorityclasses") if pc.get("globalDefault")),
                           None)
            value = int(default.get("value", 0)) if default else 0
            if default:
                spec["priorityClassName"] = default["metadata"]["name"]
                preemption = default.get("preemptionPolicy")
        if spec.get("priority") is not None and spec["priority"] != value:
            raise attrs.forbidden(f"the integer value of priority ({spec['priority']}) must not be provided in pod "
                                  f"spec; priority admission controller computed {value} from the given "
                                  "PriorityClass name")
        spec["priority"] = value
        if preemption and spec.get("preemptionPolicy") not in (None, preemption):
            raise attrs.forbidden(f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not be "
                                  f"provided in pod spec; priority admission controller computed {preemption} "
                                  "from the given PriorityClass name")
        if preemption:
            spec["preemptionPolicy"] = preemption
