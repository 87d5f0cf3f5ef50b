"""The controller manager: which controllers exist (a registry, as data), which of them
``--controllers`` turns on, and running them together over one shared informer factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubeplane.controllers.bootstrap import BootstrapSignerController, TokenCleanerController
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
from kubeplane.controllers.podautoscaler import HorizontalPodAutoscalerController
from kubeplane.controllers.podgc import PodGCController
from kubeplane.controllers.replicaset import ReplicaSetController, ReplicationManager
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


def _horizontal_pod_autoscaler(ctx: ControllerContext) -> Controller:
    return HorizontalPodAutoscalerController(ctx, sync_period=ctx.hpa_sync_period,
                                             downscale_stabilization=int(ctx.hpa_downscale_stabilization))


@dataclass(frozen=True)
class ControllerSpec:
    """How to build one controller; a constructor returns None when it cannot run (missing config)."""

    constructor: Callable[[ControllerContext], Controller | None]
    workers: int = 1
    aliases: tuple[str, ...] = ()
    enabled_by_default: bool = True
    # The kube-system service account it acts as under --use-service-account-credentials (upstream's
    # name, bound to system:controller:<name> in apiserver/authz/bootstrap/controller_roles.py);
    # "" acts as the controller manager itself.
    service_account: str = ""


# Names as upstream's --controllers takes them (the newer "-controller" names and the short aliases);
# worker counts are upstream's --concurrent-*-syncs defaults.
REGISTRY: dict[str, ControllerSpec] = {
    "deployment-controller": ControllerSpec(DeploymentController, workers=5, aliases=("deployment",),
                                            service_account="deployment-controller"),
    "replicaset-controller": ControllerSpec(ReplicaSetController, workers=5, aliases=("replicaset",),
                                            service_account="replicaset-controller"),
    "replicationcontroller-controller": ControllerSpec(ReplicationManager, workers=5,
                                                       aliases=("replicationcontroller",),
                                                       service_account="replication-controller"),
    "namespace-controller": ControllerSpec(NamespaceController, workers=10, aliases=("namespace",),
                                           service_account="namespace-controller"),
    "serviceaccount-controller": ControllerSpec(ServiceAccountController, workers=5, aliases=("serviceaccount",),
                                                service_account="service-account-controller"),
    "root-ca-certificate-publisher-controller": ControllerSpec(_root_ca_publisher,
                                                               aliases=("root-ca-cert-publisher",),
                                                               service_account="root-ca-cert-publisher"),
    "garbage-collector-controller": ControllerSpec(GarbageCollector, workers=20, aliases=("garbagecollector",),
                                                   service_account="generic-garbage-collector"),
    "job-controller": ControllerSpec(JobController, workers=5, aliases=("job",), service_account="job-controller"),
    "cronjob-controller": ControllerSpec(CronJobController, workers=5, aliases=("cronjob",),
                                         service_account="cronjob-controller"),
    "ttl-after-finished-controller": ControllerSpec(TTLAfterFinishedController, workers=5,
                                                    aliases=("ttl-after-finished",),
                                                    service_account="ttl-after-finished-controller"),
    "endpoints-controller": ControllerSpec(EndpointsController, workers=5, aliases=("endpoint",),
                                           service_account="endpoint-controller"),
    "endpointslice-controller": ControllerSpec(EndpointSliceController, workers=5, aliases=("endpointslice",),
                                               service_account="endpointslice-controller"),
    "statefulset-controller": ControllerSpec(StatefulSetController, workers=5, aliases=("statefulset",),
                                             service_account="statefulset-controller"),
    "daemonset-controller": ControllerSpec(DaemonSetController, workers=2, aliases=("daemonset",),
                                           service_account="daemon-set-controller"),
    "node-lifecycle-controller": ControllerSpec(NodeLifecycleController, aliases=("nodelifecycle",),
                                                service_account="node-controller"),
    "pod-garbage-collector-controller": ControllerSpec(PodGCController, aliases=("podgc",),
                                                       service_account="pod-garbage-collector"),
    "disruption-controller": ControllerSpec(DisruptionController, aliases=("disruption",),
                                            service_account="disruption-controller"),
    "resourcequota-controller": ControllerSpec(ResourceQuotaController, workers=5, aliases=("resourcequota",),
                                               service_account="resourcequota-controller"),
    "certificatesigningrequest-signing-controller": ControllerSpec(csr_signing_controller, aliases=("csrsigning",),
                                                                   service_account="certificate-controller"),
    "certificatesigningrequest-approving-controller": ControllerSpec(CSRApprovingController,
                                                                     aliases=("csrapproving",),
                                                                     service_account="certificate-controller"),
    "horizontal-pod-autoscaler-controller": ControllerSpec(_horizontal_pod_autoscaler, workers=5,
                                                           aliases=("horizontalpodautoscaling",),
                                                           service_account="horizontal-pod-autoscaler"),
    # Off by default as upstream; kubeadm, EKS and `kubeplane up` turn them on.
    "bootstrap-signer-controller": ControllerSpec(BootstrapSignerController, aliases=("bootstrapsigner",),
                                                  enabled_by_default=False, service_account="bootstrap-signer"),
    "token-cleaner-controller": ControllerSpec(TokenCleanerController, aliases=("tokencleaner",),
                                               enabled_by_default=False, service_account="token-cleaner"),
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
            controller = spec.constructor(ctx.for_controller(spec.service_account) if spec.service_account else ctx)
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
