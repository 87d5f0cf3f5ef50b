"""DefaultStorageClass: a PVC created without ``storageClassName`` gets the cluster's default class."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects

JSON = dict[str, Any]

IS_DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_IS_DEFAULT_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"


async def default_class(objects: ClusterObjects) -> JSON | None:
    """The default StorageClass; with several, the newest (then by name), as upstream since 1.26."""
    defaults = [sc for sc in await objects.list("storage.k8s.io", "storageclasses")
                if ((sc.get("metadata") or {}).get("annotations") or {}).get(IS_DEFAULT_ANNOTATION) == "true"
                or ((sc.get("metadata") or {}).get("annotations") or {}).get(BETA_IS_DEFAULT_ANNOTATION) == "true"]
    if not defaults:
        return None
    defaults.sort(key=lambda sc: (sc["metadata"].get("creationTimestamp", ""), sc["metadata"]["name"]))
    newest = defaults[-1]["metadata"].get("creationTimestamp", "")
    return sorted((sc for sc in defaults if sc["metadata"].get("creationTimestamp", "") == newest),
                  key=lambda sc: sc["metadata"]["name"])[0]


class DefaultStorageClass:
    name = "DefaultStorageClass"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects

    async def admit(self, attrs: Attributes) -> None:
        if attrs.operation != CREATE or not attrs.is_main("", "persistentvolumeclaims") or attrs.object is None:
            return
        spec = attrs.object.setdefault("spec", {})
        # An explicit "" asks for no class; only an absent field is defaulted.
        if spec.get("storageClassName") is not None:
            return
        if ((attrs.object.get("metadata") or {}).get("annotations") or {}).get(
                "volume.beta.kubernetes.io/storage-class") is not None:
            return
        found = await default_class(self.objects)
        if found is not None:
            spec["storageClassName"] = found["metadata"]["name"]
