"""The controller manager: which controllers exist (a registry, as data), which of them
``--controllers`` turns on, and running them together over one shared informer factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubeplane.controllers.certificates import CSRApprovingController, csr_signing_controller
from kubeplane.controllers.controller import Controller, ControllerContext
from kubeplane.controllers.cronjob import CronJobController
from kubeplane.controllers.daemonset import DaemonSetController
from kubeplane.controllers.deployment import DeploymentController
from kubeplane.controllers.disruption import DisruptionController
from kubeplane.controllers.endpoints import EndpointsController
from kubeplane.controllers.endpointslice import EndpointSliceController
from kubeplane.controllers.garbagecollector import GarbageCollector
from kubeplane.controllers.job import JobController
from kubeplane.controllers.namespace import NamespaceController
from kubeplane.controllers.nodelifecycle import NodeLifecycleController
from kubeplane.controllers.podgc import PodGCController
from kubeplane.controllers.replicaset import ReplicaSetController
from kubeplane.controllers.resourcequota import ResourceQuotaController
from kubeplane.controllers.rootcapublisher import RootCAPublisher
from kubeplane.controllers.serviceaccount import ServiceAccountController
from kubeplane.controllers.statefulset import StatefulSetController
from kubeplane.controllers.ttlafterfinished import TTLAfterFinishedController

log = logging.getLogger(__name__)


def _root_ca_publisher(ctx: ControllerContext) -> Controller | None:
    if not ctx.root_ca:
        log.warning("root-ca-cert-publisher: no --root-ca-file; not starting")
        return None
    return RootCAPublisher(ctx)


@dataclass(frozen=True)
class ControllerSpec:
    """How to build one controller; a constructor returns None when it cannot run (missing config)."""

    constructor: Callable[[ControllerContext], Controller | None]
    workers: int = 1
    aliases: tuple[str, ...] = ()
    enabled_by_default: bool = True


# Names as upstream's --controllers takes them (the newer "-controller" names and the short aliases);
# worker counts are upstream's --concurrent-*-syncs defaults.
REGISTRY: dict[str, ControllerSpec] = {
    "deployment-controller": ControllerSpec(DeploymentController, workers=5, aliases=("deployment",)),
    "replicaset-controller": ControllerSpec(ReplicaSetController, workers=5, aliases=("replicaset",)),
    "namespace-controller": ControllerSpec(NamespaceController, workers=10, aliases=("namespace",)),
    "serviceaccount-controller": ControllerSpec(ServiceAccountController, workers=5, aliases=("serviceaccount",)),
    "root-ca-certificate-publisher-controller": ControllerSpec(_root_ca_publisher,
                                                               aliases=("root-ca-cert-publisher",)),
    "garbage-collector-controller": ControllerSpec(GarbageCollector, workers=20, aliases=("garbagecollector",)),
    "job-controller": ControllerSpec(JobController, workers=5, aliases=("job",)),
    "cronjob-controller": ControllerSpec(CronJobController, workers=5, aliases=("cronjob",)),
    "ttl-after-finished-controller": ControllerSpec(TTLAfterFinishedController, workers=5,
                                                    aliases=("ttl-after-finished",)),
    "endpoints-controller": ControllerSpec(EndpointsController, workers=5, aliases=("endpoint",)),
    "endpointslice-controller": ControllerSpec(EndpointSliceController, workers=5, aliases=("endpointslice",)),
    "statefulset-controller": ControllerSpec(StatefulSetController, workers=5, aliases=("statefulset",)),
    "daemonset-controller": ControllerSpec(DaemonSetController, workers=2, aliases=("daemonset",)),
    "node-lifecycle-controller": ControllerSpec(NodeLifecycleController, aliases=("nodelifecycle",)),
    "pod-garbage-collector-controller": ControllerSpec(PodGCController, aliases=("podgc",)),
    "disruption-controller": ControllerSpec(DisruptionController, aliases=("disruption",)),
    "resourcequota-controller": ControllerSpec(ResourceQuotaController, workers=5, aliases=("resourcequota",)),
    "certificatesigningrequest-signing-controller": ControllerSpec(csr_signing_controller, aliases=("csrsigning",)),
    "certificatesigningrequest-approving-controller": ControllerSpec(CSRApprovingController,
                                                                     aliases=("csrapproving",)),
}


class UnknownControllerError(ValueError):
    pass


def known_names(registry: dict[str, ControllerSpec]) -> set[str]:
    return {alias for name, spec in registry.items() for alias in (name, *spec.aliases)}


def enabled_controllers(selection: Sequence[str], registry: dict[str, ControllerSpec] = REGISTRY) -> list[str]:
    """The registry names ``--controllers`` turns on: ``foo`` enables, ``-foo`` disables, ``*`` means
    every controller on by default; an explicit name wins over ``*`` (upstream's rules)."""
    known = known_names(registry)
    for item in selection:
        name = item.removeprefix("-")
        if item != "*" and name not in known:
            raise UnknownControllerError(f"{item!r} is not in the list of known controllers: {sorted(known)}")
    chosen = []
    for name, spec in registry.items():
        names = (name, *spec.aliases)
        explicit = [item for item in selection if item.removeprefix("-") in names]
        wanted = not explicit[0].startswith("-") if explicit else "*" in selection and spec.enabled_by_default
        if wanted:
            chosen.append(name)
    return chosen


class ControllerManager:
    """Builds the chosen controllers, starts the shared informers once every controller has
    asked for its own, and runs the controllers until cancelled."""

    def __init__(self, ctx: ControllerContext, names: Sequence[str],
                 registry: dict[str, ControllerSpec] = REGISTRY) -> None:
        self.ctx = ctx
        self.controllers: list[tuple[Controller, int]] = []
        for name in names:
            spec = registry[name]
            controller = spec.constructor(ctx)
            if controller is not None:
                self.controllers.append((controller, spec.workers))

    async def run(self) -> None:
        self.ctx.informers.start()
        log.info("starting controllers: %s", ", ".join(c.name for c, _ in self.controllers))
        try:
            await asyncio.gather(*(controller.run(workers) for controller, workers in self.controllers))
        finally:
            await self.ctx.informers.shutdown()
            await self.ctx.stop()
