"""The Deployment controller (upstream ``pkg/controller/deployment``): handlers that route
Deployment, ReplicaSet and pod changes to the owning Deployment's key, and the sync that picks
what a ``Rollout`` does — status only (being deleted), pause/resize, Recreate or RollingUpdate."""

from __future__ import annotations

import logging
from typing import Any

from kubeplane.client import DeletedFinalStateUnknown, EventHandlers, Informer, split_key
from kubeplane.client.events import WARNING
from kubeplane.client.resource import DEPLOYMENTS, PODS, REPLICASETS
from kubeplane.controllers.controller import ControllerContext, ResourceController, unwrap_tombstone
from kubeplane.controllers.deployment.replicas import is_rolling_update
from kubeplane.controllers.deployment.rollout import Rollout
from kubeplane.controllers.owners import Owners
from kubeplane.controllers.ownership import (
    ClaimManager,
    controller_ref,
    recheck_owner,
    resolve_controller_ref,
    selector_of,
)

log = logging.getLogger(__name__)

JSON = dict[str, Any]


class DeploymentController(ResourceController):
    name = "deployment"
    component = "deployment-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.deployments: Informer = self.informer(DEPLOYMENTS, self.enqueue_handlers())
        self.owners = Owners(self.deployments, DEPLOYMENTS.kind)
        self.sets: Informer = self.informer(REPLICASETS, self.owners.child_handlers(self.enqueue))
        self.pods: Informer = self.informer(PODS, EventHandlers(on_delete=self._pod_deleted))

    # -- event handlers: only enqueue ---------------------------------------------------------

    def _pod_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        # Only Recreate waits for pods (old ones must be gone before new ones start).
        pod = unwrap_tombstone(obj)
        namespace = pod["metadata"].get("namespace")
        rs = resolve_controller_ref(pod, REPLICASETS.kind, lambda name: self.sets.get(name, namespace))
        owner = self.owners.owner_of(rs) if rs is not None else None
        if owner is not None and not is_rolling_update(owner):
            self.enqueue(owner)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        deployment = self.deployments.get(name, namespace)
        if deployment is None:
            return
        selector = selector_of(deployment)
        if selector is None or selector.empty:
            self.recorder.event(deployment, WARNING, "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            return
        claim = ClaimManager(self.client, deployment, DEPLOYMENTS, REPLICASETS, selector,
                             lambda: recheck_owner(self.client, DEPLOYMENTS, deployment))
        sets = await claim.claim(self.sets.list(namespace))
        rollout = Rollout(self.client, self.recorder, self.clock.wall(), deployment, sets,
                          self._pods_by_set(namespace, sets))
        if deployment["metadata"].get("deletionTimestamp"):
            await rollout.status_only()
            return
        await rollout.check_paused_conditions()
        if (deployment.get("spec") or {}).get("paused") or await rollout.is_scaling_event():
            await rollout.scale_only()
            return
        if is_rolling_update(deployment):
            await rollout.rolling()
        else:
            await rollout.recreate()
        if rollout.requeue_after is not None:
            self.queue.add_after(key, rollout.requeue_after)

    def _pods_by_set(self, namespace: str | None, sets: list[JSON]) -> dict[str, list[JSON]]:
        uids = {rs["metadata"].get("uid") for rs in sets}
        by_set: dict[str, list[JSON]] = {}
        for pod in self.pods.list(namespace):
            ref = controller_ref(pod)
            if ref is not None and ref.get("uid") in uids:
                by_set.setdefault(ref["uid"], []).append(pod)
        return by_set
