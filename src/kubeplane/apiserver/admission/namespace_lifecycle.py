"""NamespaceLifecycle: content only in namespaces that exist and are not terminating; the immortal
namespaces (default, kube-system, kube-public) cannot be deleted."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, DELETE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.machinery import errors

JSON = dict[str, Any]

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
# Reviews are computed, never stored, so they may name any namespace (upstream's access-review
# exemption); they never reach a store here, but keep the rule explicit.
_EXEMPT = frozenset({("authorization.k8s.io", "localsubjectaccessreviews")})


class NamespaceLifecycle:
    name = "NamespaceLifecycle"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects

    async def admit(self, attrs: Attributes) -> None:
        if attrs.operation == DELETE and attrs.is_main("", "namespaces"):
            if attrs.name in IMMORTAL_NAMESPACES:
                raise attrs.forbidden("this namespace may not be deleted")
            return
        if not attrs.resource.namespaced or not attrs.namespace:
            return
        if (attrs.group, attrs.resource.resource) in _EXEMPT:
            return
        namespace = await self.objects.get("", "namespaces", "", attrs.namespace)
        if namespace is None:
            raise errors.not_found("", "namespaces", attrs.namespace)
        if attrs.operation != CREATE or not namespace["metadata"].get("deletionTimestamp"):
            return
        message = (f"unable to create new content in namespace {attrs.namespace} because it is being "
                   "terminated")
        err = attrs.forbidden(message)
        # Controllers recognise this case by the cause type, as upstream's NamespaceLifecycle sets it.
        err.causes = [errors.Cause("NamespaceTerminating", message, "metadata.namespace")]
        raise err
