"""DefaultBinder: POST a Binding to the pod's ``binding`` subresource."""

from __future__ import annotations

from kubeplane.client import ApiError
from kubeplane.client.resource import PODS
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import Handle
from kubeplane.scheduler.framework.nodeinfo import PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status

NAME = "DefaultBinder"


class DefaultBinder:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        metadata = pod.metadata
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": metadata.get("name"), "namespace": metadata.get("namespace"),
                                "uid": metadata.get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        try:
            await self.handle.client.create(PODS, binding, pod.namespace, subresource="binding",
                                            name=metadata.get("name"))
        except ApiError as err:
            return Status.error(str(err))
        return Status()


def new(args: PluginArgs, handle: Handle) -> DefaultBinder:
    return DefaultBinder(handle)
