"""The Node authorizer: a kubelet (``system:node:<name>`` in ``system:nodes``) may read the secrets,
configmaps and PVCs, and request tokens for the service accounts, of pods bound to its node only.
Everything else a kubelet needs is decided from upstream's static node rules (the system:node role).

The pod → node relationships come from an in-memory graph kept current by an in-process watch on
the API server's own pod watch cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kubeplane.apiserver.authz.attributes import NO_OPINION, Attributes, Decision, RuleSet, UserInfo
from kubeplane.apiserver.authz.rules import rules_allow

if TYPE_CHECKING:
    from kubeplane.apiserver.registry.store import Store

log = logging.getLogger(__name__)
JSON = dict[str, Any]

NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
_INITIAL_EVENTS_END = "k8s.io/initial-events-end"
# (api group, resource, subresource) the graph decides, with the verbs it may allow.
_GRAPH_RESOURCES = {("", "secrets", ""): ("get", "list", "watch"), ("", "configmaps", ""): ("get", "list", "watch"),
                    ("", "persistentvolumeclaims", ""): ("get",), ("", "serviceaccounts", "token"): ("create",)}


def node_of(user: UserInfo) -> str:
    if NODES_GROUP not in user.groups or not user.name.startswith(NODE_USER_PREFIX):
        return ""
    return user.name[len(NODE_USER_PREFIX):]


def pod_references(pod: JSON) -> set[tuple[str, str, str]]:
    """(resource, namespace, name) of what the pod uses that its kubelet must be able to read."""
    namespace = pod["metadata"].get("namespace", "")
    spec = pod.get("spec") or {}
    refs: set[tuple[str, str, str]] = set()

    def add(resource: str, name: str | None) -> None:
        if name:
            refs.add((resource, namespace, name))

    add("serviceaccounts", spec.get("serviceAccountName"))
    for secret in spec.get("imagePullSecrets") or ():
        add("secrets", secret.get("name"))
    for volume in spec.get("volumes") or ():
        add("secrets", (volume.get("secret") or {}).get("secretName"))
        add("configmaps", (volume.get("configMap") or {}).get("name"))
        add("persistentvolumeclaims", (volume.get("persistentVolumeClaim") or {}).get("claimName"))
        if "ephemeral" in volume:
            add("persistentvolumeclaims", f"{pod['metadata'].get('name', '')}-{volume.get('name', '')}")
        for source in (volume.get("projected") or {}).get("sources") or ():
            add("secrets", (source.get("secret") or {}).get("name"))
            add("configmaps", (source.get("configMap") or {}).get("name"))
        for key in ("cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos", "azureFile", "csi"):
            add("secrets", ((volume.get(key) or {}).get("secretRef") or {}).get("name")
                or (volume.get(key) or {}).get("secretName") or ((volume.get(key) or {}).get(
                    "nodePublishSecretRef") or {}).get("name"))
    for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ()),
                      *(spec.get("ephemeralContainers") or ())]:
        for env in container.get("env") or ():
            source = env.get("valueFrom") or {}
            add("secrets", (source.get("secretKeyRef") or {}).get("name"))
            add("configmaps", (source.get("configMapKeyRef") or {}).get("name"))
        for env_from in container.get("envFrom") or ():
            add("secrets", (env_from.get("secretRef") or {}).get("name"))
            add("configmaps", (env_from.get("configMapRef") or {}).get("name"))
    return refs


class NodeGraph:
    """Which nodes may reach which objects, through the pods bound to them."""

    def __init__(self) -> None:
        self._pods: dict[tuple[str, str], tuple[str, set[tuple[str, str, str]]]] = {}
        self._reachable: dict[tuple[str, str, str], dict[str, int]] = {}
        self._task: asyncio.Task[None] | None = None

    def put_pod(self, pod: JSON) -> None:
        key = (pod["metadata"].get("namespace", ""), pod["metadata"].get("name", ""))
        self.delete_pod(*key)
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node:
            return
        refs = pod_references(pod)
        self._pods[key] = (node, refs)
        for ref in refs:
            counts = self._reachable.setdefault(ref, {})
            counts[node] = counts.get(node, 0) + 1

    def delete_pod(self, namespace: str, name: str) -> None:
        old = self._pods.pop((namespace, name), None)
        if old is None:
            return
        node, refs = old
        for ref in refs:
            counts = self._reachable.get(ref, {})
            counts[node] = counts.get(node, 1) - 1
            if counts[node] <= 0:
                counts.pop(node, None)
            if not counts:
                self._reachable.pop(ref, None)

    def replace(self, pods: Iterable[JSON]) -> None:
        self._pods.clear()
        self._reachable.clear()
        for pod in pods:
            self.put_pod(pod)

    def reaches(self, node: str, resource: str, namespace: str, name: str) -> bool:
        return node in self._reachable.get((resource, namespace, name), {})

    # -- feeding from the pod watch cache -------------------------------------------------------------
    async def start(self, pods: Store) -> None:
        synced = asyncio.Event()
        self._task = asyncio.create_task(self._follow(pods, synced), name="node authorizer graph")
        await synced.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, pods: Store, synced: asyncio.Event) -> None:
        from kubeplane.apiserver.registry.context import RequestContext
        from kubeplane.storage import interface as st

        while True:
            try:
                watcher = await pods.watch(RequestContext(), st.WatchOptions(
                    resource_version="", send_initial_events=True, allow_bookmarks=True))
                initial: list[JSON] | None = []
                try:
                    async for event in watcher:
                        if event.type == st.BOOKMARK:
                            annotations = event.object.get("metadata", {}).get("annotations") or {}
                            if initial is not None and annotations.get(_INITIAL_EVENTS_END) == "true":
                                self.replace(initial)
                                initial = None
                                synced.set()
                        elif initial is not None:
                            initial.append(event.object)
                        elif event.type == st.DELETED:
                            meta = event.object.get("metadata", {})
                            self.delete_pod(meta.get("namespace", ""), meta.get("name", ""))
                        else:
                            self.put_pod(event.object)
                finally:
                    await watcher.stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep the last graph; re-watch shortly
                log.warning("node authorizer pod watch ended: %r", exc)
            await asyncio.sleep(0.2)


class NodeAuthorizer:
    def __init__(self, graph: NodeGraph, node_rules: list[JSON]) -> None:
        self.graph = graph
        self.node_rules = node_rules

    def authorize(self, attrs: Attributes) -> Decision:
        node = node_of(attrs.user)
        if not node:
            return NO_OPINION
        if not attrs.is_resource_request:
            return NO_OPINION
        verbs = _GRAPH_RESOURCES.get((attrs.api_group, attrs.resource, attrs.subresource))
        if verbs is not None:
            if attrs.verb not in verbs:
                return Decision(False, f"can only {'/'.join(verbs)} individual resources of this type")
            if not attrs.name:
                return Decision(False, "can only get individual resources of this type")
            if self.graph.reaches(node, attrs.resource, attrs.namespace, attrs.name):
                return Decision(True)
            return Decision(False, f"no relationship found between node '{node}' and this object")
        if rules_allow(attrs, self.node_rules):
            return Decision(True)
        return NO_OPINION

    def rules_for(self, user: UserInfo, namespace: str) -> RuleSet:
        if not node_of(user):
            return RuleSet()
        return RuleSet(resource_rules=list(self.node_rules), incomplete=True)


def node_rules(policy: Iterable[JSON]) -> list[JSON]:
    """The system:node ClusterRole's rules without the resources the graph decides."""
    role = next((o for o in policy if o.get("kind") == "ClusterRole" and o["metadata"]["name"] == "system:node"), None)
    graph_resources = {"secrets", "configmaps", "persistentvolumeclaims", "serviceaccounts/token"}
    rules: list[JSON] = []
    for rule in (role or {}).get("rules") or ():
        resources = [r for r in rule.get("resources") or () if r not in graph_resources]
        if rule.get("resources") and not resources:
            continue
        rules.append({**rule, "resources": resources} if rule.get("resources") else rule)
    return rules
