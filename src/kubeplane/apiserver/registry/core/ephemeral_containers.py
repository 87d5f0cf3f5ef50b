"""The ``pods/<name>/ephemeralcontainers`` endpoint (upstream's podEphemeralContainersStrategy):
a write changes only ``spec.ephemeralContainers``; everything else comes from the stored pod."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.machinery import validation
from kubeplane.machinery.errors import Cause
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]

# What a subresource write keeps from the request's metadata (upstream's dropNonEphemeralContainerUpdates);
# managedFields too, because the store tracks them for the request after this strategy ran.
_KEPT_METADATA = ("name", "namespace", "resourceVersion", "uid", "managedFields")


class EphemeralContainersStrategy(Strategy):
    def __init__(self, main: Strategy) -> None:
        super().__init__(main.info, main.minor)
        self.main = main
        self.allow_unconditional_update = main.allow_unconditional_update

    def prepare_for_update(self, ctx: RequestContext, new: JSON, old: JSON) -> None:
        containers = (new.get("spec") or {}).get("ephemeralContainers")
        request_meta = new.get("metadata") or {}
        new.clear()
        new.update(clone(old))
        meta = new["metadata"]
        for key in _KEPT_METADATA:
            if key in request_meta:
                meta[key] = request_meta[key]
            else:
                meta.pop(key, None)
        spec = new.setdefault("spec", {})
        if containers:
            spec["ephemeralContainers"] = containers
        else:
            spec.pop("ephemeralContainers", None)
        # Adding an ephemeral container changes the pod's spec, so its generation moves on.
        if self.main.tracks_generation and spec.get("ephemeralContainers") != (old.get("spec") or {}).get(
                "ephemeralContainers"):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1

    def validate_update(self, ctx: RequestContext, new: JSON, old: JSON) -> list[Cause]:
        return validation.validate_ephemeral_containers_update(new, old, self.minor)
