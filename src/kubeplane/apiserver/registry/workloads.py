"""Strategies shared by groups of resources whose upstream strategies only differ in these flags."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.strategy import Strategy

JSON = dict[str, Any]
EVENT_TTL_SECONDS = 3600
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_NAME_LABEL = "job-name"


class StatusStrategyBase(Strategy):
    """Has a status subresource; no generation tracking."""

    has_status_subresource = True


class CertificateSigningRequestStrategy(StatusStrategyBase):
    """The requester's identity is recorded by the server, never taken from the body (upstream's
    csr strategy): approvers decide from spec.username/uid/groups/extra."""

    def prepare_for_create(self, ctx: RequestContext, obj: JSON) -> None:
        super().prepare_for_create(ctx, obj)
        spec = obj.setdefault("spec", {})
        for key in ("username", "uid", "groups", "extra"):
            spec.pop(key, None)
        spec["username"] = ctx.user
        if ctx.user_uid:
            spec["uid"] = ctx.user_uid
        if ctx.groups:
            spec["groups"] = list(ctx.groups)
        if ctx.user_extra:
            spec["extra"] = {key: list(values) for key, values in ctx.user_extra.items()}


class WorkloadStrategy(Strategy):
    """Spec/status objects: status subresource and metadata.generation on spec changes."""

    has_status_subresource = True
    tracks_generation = True


class NodeStrategy(Strategy):
    """Nodes may set every field, status included, on create (the kubelet registers with its
    capacity); after that, status changes only through /status."""

    has_status_subresource = True

    def prepare_for_create(self, ctx: RequestContext, obj: JSON) -> None:
        pass


class CreateOnUpdateStrategy(Strategy):
    """Objects a controller or component writes with PUT whether or not they exist."""

    allow_create_on_update = True


class EventStrategy(CreateOnUpdateStrategy):
    # Events expire, as upstream's --event-ttl (1h) through an etcd lease.
    ttl_seconds = EVENT_TTL_SECONDS


class OrphanByDefaultStrategy(WorkloadStrategy):
    """ReplicationControllers: a DELETE without a policy orphans the pods (upstream keeps the old
    default of core/v1 for compatibility)."""

    default_propagation = "Orphan"


class JobStrategy(OrphanByDefaultStrategy):
    """Jobs get a selector on their own UID unless the user manages it (``manualSelector``).
    A DELETE without a policy orphans the pods, with upstream's warning."""

    default_propagation_warning = ("child pods are preserved by default when jobs are deleted; set "
                                   "propagationPolicy=Background to remove them or set "
                                   "propagationPolicy=Orphan to suppress this warning")

    def prepare_for_create(self, ctx: RequestContext, obj: JSON) -> None:
        super().prepare_for_create(ctx, obj)
        spec = obj.setdefault("spec", {})
        if spec.get("manualSelector"):
            return
        meta = obj["metadata"]
        generated = {
            CONTROLLER_UID_LABEL: meta["uid"], LEGACY_CONTROLLER_UID_LABEL: meta["uid"],
            JOB_NAME_LABEL: meta.get("name", ""), LEGACY_JOB_NAME_LABEL: meta.get("name", ""),
        }
        template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
        labels = template_meta.get("labels") or {}
        template_meta["labels"] = {**labels, **generated}
        if not spec.get("selector"):
            spec["selector"] = {"matchLabels": {CONTROLLER_UID_LABEL: meta["uid"]}}
