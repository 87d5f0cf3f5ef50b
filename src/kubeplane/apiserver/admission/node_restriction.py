"""NodeRestriction: a kubelet (``system:node:<name>`` in ``system:nodes``) may modify only its own
Node and Lease, and only pods bound to it: it creates and deletes mirror pods, updates pod status
and evicts its own pods; on its Node it may set only the labels upstream lets kubelets set."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, DELETE, UPDATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects

JSON = dict[str, Any]

NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
_ALLOWED_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os", "beta.kubernetes.io/arch",
    "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "topology.kubernetes.io/zone", "topology.kubernetes.io/region"})
_ALLOWED_PREFIXES = ("kubelet.kubernetes.io/", "node.kubernetes.io/")


def node_name(user_name: str, groups: tuple[str, ...]) -> str:
    """The node a user is, or "" (upstream's NodeIdentifier)."""
    if NODES_GROUP not in groups or not user_name.startswith(NODE_USER_PREFIX):
        return ""
    return user_name[len(NODE_USER_PREFIX):]


def kubelet_may_set_label(key: str) -> bool:
    """Labels outside the kubernetes.io / k8s.io namespaces are free; inside, only the allowed ones."""
    namespace = key.split("/", 1)[0] if "/" in key else ""
    if key in _ALLOWED_LABELS or key.startswith(_ALLOWED_PREFIXES):
        return True
    if namespace.startswith("node-restriction.kubernetes.io") or namespace.endswith(".node-restriction.kubernetes.io"):
        return False
    restricted = any(namespace == ns or namespace.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))
    return not restricted


class NodeRestriction:
    name = "NodeRestriction"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects

    async def validate(self, attrs: Attributes) -> None:
        node = node_name(attrs.user.name, attrs.user.groups)
        if not node:
            return
        if attrs.is_resource("", "pods"):
            self._pod(attrs, node)
        elif attrs.is_resource("", "nodes"):
            self._node(attrs, node)
        elif attrs.is_resource("coordination.k8s.io", "leases") and attrs.namespace == "kube-node-lease" \
                and attrs.name != node:
            raise attrs.forbidden("can only access node lease with the same name as the requesting node")

    def _pod(self, attrs: Attributes, node: str) -> None:
        pod = attrs.object if attrs.operation == CREATE else attrs.old_object
        bound_to = ((pod or {}).get("spec") or {}).get("nodeName")
        if attrs.subresource == "status":
            if bound_to != node:
                raise attrs.forbidden(f'node "{node}" can only update pod status for pods with spec.nodeName '
                                      "set to itself")
            return
        if attrs.subresource == "eviction":
            if bound_to != node:
                raise attrs.forbidden(f'node "{node}" can only evict pods with spec.nodeName set to itself')
            return
        if attrs.subresource:
            raise attrs.forbidden(f'unexpected subresource "{attrs.subresource}", node "{node}" can only update '
                                  "pod status")
        if attrs.operation == CREATE:
            annotations = ((pod or {}).get("metadata") or {}).get("annotations") or {}
            if MIRROR_POD_ANNOTATION not in annotations:
                raise attrs.forbidden(f'pod does not have "{MIRROR_POD_ANNOTATION}" annotation, node "{node}" can '
                                      "only create mirror pods")
            if bound_to != node:
                raise attrs.forbidden(f'node "{node}" can only create pods with spec.nodeName set to itself')
            return
        if attrs.operation == DELETE:
            if bound_to != node:
                raise attrs.forbidden(f'node "{node}" can only delete pods with spec.nodeName set to itself')
            return
        raise attrs.forbidden(f'unexpected operation "{attrs.operation}", node "{node}" can only create and '
                              "delete mirror pods")

    def _node(self, attrs: Attributes, node: str) -> None:
        if attrs.name != node:
            raise attrs.forbidden(f'node "{node}" is not allowed to modify node "{attrs.name}"')
        if attrs.object is None:
            return
        labels = (attrs.object.get("metadata") or {}).get("labels") or {}
        if attrs.operation == CREATE:
            bad = sorted(k for k in labels if not kubelet_may_set_label(k))
            if bad:
                raise attrs.forbidden(f"node \"{node}\" is not allowed to set the following labels: {', '.join(bad)}")
        elif attrs.operation == UPDATE and attrs.old_object is not None:
            old_labels = (attrs.old_object.get("metadata") or {}).get("labels") or {}
            changed = {k for k in set(labels) | set(old_labels) if labels.get(k) != old_labels.get(k)}
            bad = sorted(k for k in changed if not kubelet_may_set_label(k))
            if bad:
                raise attrs.forbidden(f"is not allowed to modify labels: {', '.join(bad)}")
            if not attrs.subresource and (attrs.object.get("spec") or {}).get("taints") != \
                    (attrs.old_object.get("spec") or {}).get("taints"):
                raise attrs.forbidden(f'node "{node}" is not allowed to modify taints')
