"""The verbs of one served custom resource version: the generic handler with the CRD's schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplane.apiserver.endpoints import subresources
from kubeplane.apiserver.endpoints.handlers import PATCH_STRATEGIC, ResourceHandler, Response
from kubeplane.apiserver.negotiation import Representation
from kubeplane.apiserver.registry.context import (
    RequestContext,
)
from kubeplane.apiserver.registry.store import Store
from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.catalog import ResourceInfo
from kubeplane.machinery import errors
from kubeplane.machinery.objects import clone
from kubeplane.machinery.pruning import prune_unknown_fields
from kubeplane.machinery.schema import Schemas

from . import jsonpath
from .schema_adapter import pruning_schema

JSON = dict[str, Any]

# Strategic merge needs Go struct tags custom resources do not have; upstream answers 415.
_CUSTOM_PATCH_TYPES = ("application/json-patch+json, application/merge-patch+json, "
                       "application/apply-patch+yaml")


class CustomResourceHandler(ResourceHandler):
    def __init__(self, info: ResourceInfo, store: Store, schemas: Schemas, schema: JSON,
                 status_strategy: Strategy | None, scale: JSON | None, crd_name: str) -> None:
        super().__init__(info, store, schemas, status_strategy)
        self.pruning = pruning_schema(schema)
        self.scale = scale
        self.crd_name = crd_name
        # Set while the CRD is being deleted: objects may still be read and deleted, not created.
        self.terminating = False

    def _check_fields(self, ctx: RequestContext, obj: JSON) -> None:
        self.report_decoding(ctx, prune_unknown_fields(self.schemas, self.pruning, obj))

    async def create(self, ctx: RequestContext, body: Any, rep: Representation,
                     query: Mapping[str, str]) -> Response:
        if self.terminating:
            raise errors.method_not_allowed(f'create is not supported on resources of kind "{self.crd_name}"')
        return await super().create(ctx, body, rep, query)

    async def patch(self, ctx: RequestContext, name: str, patch_type: str, body: Any, rep: Representation,
                    query: Mapping[str, str], strategy: Strategy | None = None) -> Response:
        if patch_type == PATCH_STRATEGIC:
            raise errors.StatusError(415, "UnsupportedMediaType",
                                     "the body of the request was in an unknown format - accepted media types "
                                     f"include: {_CUSTOM_PATCH_TYPES}")
        return await super().patch(ctx, name, patch_type, body, rep, query, strategy)

    def apply_schema(self) -> JSON | None:
        # Server-side apply reads list and map types (x-kubernetes-list-type, ...) from the CRD.
        return self.pruning

    # -- scale subresource --------------------------------------------------------------------------
    def _scale_paths(self) -> tuple[str, str, str]:
        scale = self.scale or {}
        return (str(scale.get("specReplicasPath", "")), str(scale.get("statusReplicasPath", "")),
                str(scale.get("labelSelectorPath", "") or ""))

    def to_scale(self, obj: JSON) -> JSON:
        spec_path, status_path, selector_path = self._scale_paths()
        meta = obj["metadata"]
        _, spec_replicas = jsonpath.find(obj, spec_path)
        _, status_replicas = jsonpath.find(obj, status_path)
        status: JSON = {"replicas": status_replicas if isinstance(status_replicas, int) else 0}
        if selector_path:
            found, selector = jsonpath.find(obj, selector_path)
            if found and isinstance(selector, str):
                status["selector"] = selector
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": spec_replicas if isinstance(spec_replicas, int) else 0},
            "status": status,
        }

    def apply_scale(self, current: JSON, scale: Any) -> JSON:
        replicas = subresources.requested_replicas(current, scale)
        updated = clone(current)
        jsonpath.set_value(updated, self._scale_paths()[0], replicas)
        return updated
