"""What every hollow node in a process shares: one pod informer and one Service informer.

A real kubelet watches the pods bound to it (``spec.nodeName=<node>``) and all Services. Done per
hollow node, 5,000 nodes would hold 10,000 watches and the API server would encode every Service
event 5,000 times. Here one informer watches every bound pod (``spec.nodeName!=``, so pending
pods are not cached) and hands each event to the node the pod is bound to, in process; one
Service informer serves every node's service-link environment variables; one Node informer (hollow
nodes only, by label) lets each node compare its status with what the API holds without a GET.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kubeplane.client import Client, DeletedFinalStateUnknown, EventHandlers, Informer
from kubeplane.client.indexer import NODE_NAME_INDEX, index_by_node_name
from kubeplane.client.resource import NODES, PODS, SERVICES

JSON = dict[str, Any]
BOUND_PODS = "spec.nodeName!="
HOLLOW_LABEL = "kubeplane.io/hollow"


class PodSink(Protocol):
    """The part of a kubelet that receives its pods' events."""

    def pod_changed(self, pod: JSON) -> None: ...

    def pod_deleted(self, pod: JSON) -> None: ...


def _node_of(pod: JSON) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


class SharedInformers:
    """``start()`` and ``wait_for_sync()`` once, then ``attach`` each node by name: it is replayed
    the pods already cached for it and then receives its pods' changes."""

    def __init__(self, client: Client, page_size: int = 500) -> None:
        self.pods = Informer(client, PODS, field_selector=BOUND_PODS, page_size=page_size,
                             indexers={NODE_NAME_INDEX: index_by_node_name})
        self.services = Informer(client, SERVICES, page_size=page_size)
        self.nodes = Informer(client, NODES, label_selector=f"{HOLLOW_LABEL}=true", page_size=page_size)
        self._sinks: dict[str, PodSink] = {}
        self.pods.add_event_handler(EventHandlers(on_add=self._changed, on_update=lambda _, pod: self._changed(pod),
                                                  on_delete=self._deleted))

    def start(self) -> None:
        self.services.start()
        self.nodes.start()
        self.pods.start()

    async def wait_for_sync(self) -> None:
        # As upstream, containers start only once Services were read (their service-link env).
        await self.services.wait_for_sync()
        await self.nodes.wait_for_sync()
        await self.pods.wait_for_sync()

    async def stop(self) -> None:
        await self.pods.stop()
        await self.nodes.stop()
        await self.services.stop()

    def attach(self, node_name: str, sink: PodSink) -> None:
        self._sinks[node_name] = sink
        for pod in self.pods.by_index(NODE_NAME_INDEX, node_name):
            sink.pod_changed(pod)

    def detach(self, node_name: str) -> None:
        self._sinks.pop(node_name, None)

    def pods_of(self, node_name: str) -> list[JSON]:
        return self.pods.by_index(NODE_NAME_INDEX, node_name)

    @property
    def list_services(self) -> Callable[[], list[JSON]]:
        return self.services.list

    def _changed(self, pod: JSON) -> None:
        sink = self._sinks.get(_node_of(pod))
        if sink is not None:
            sink.pod_changed(pod)

    def _deleted(self, pod: JSON | DeletedFinalStateUnknown) -> None:
        obj = pod.obj if isinstance(pod, DeletedFinalStateUnknown) else pod
        sink = self._sinks.get(_node_of(obj))
        if sink is not None:
            sink.pod_deleted(obj)
