"""The root CA publisher (upstream ``pkg/controller/certificates/rootcacertpublisher``): every
active namespace gets a ConfigMap ``kube-root-ca.crt`` whose ``ca.crt`` is the cluster CA,
so pods can verify the API server; edits to it are put back."""

from __future__ import annotations

from typing import Any

from kubeplane.client import AlreadyExists, Forbidden, NotFound
from kubeplane.client.resource import CONFIGMAPS
from kubeplane.controllers.controller import ControllerContext
from kubeplane.controllers.namespaced_object import PerNamespaceController

JSON = dict[str, Any]

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DATA_KEY = "ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
               "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
               "guaranteed across distributions of Kubernetes clusters.")


class RootCAPublisher(PerNamespaceController):
    name = "root-ca-cert-publisher"
    object_name = ROOT_CA_CONFIGMAP

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, CONFIGMAPS, field_selector=f"metadata.name={ROOT_CA_CONFIGMAP}")
        self.ca = ctx.root_ca.decode()

    async def sync(self, key: str) -> None:
        if not self.active_namespace(key):
            return
        current = self.current(key)
        try:
            if current is None:
                await self.client.create(CONFIGMAPS, self._desired(key, {}), key)
            elif self._needs_update(current):
                await self.client.update(CONFIGMAPS, self._desired(key, current))
        except (AlreadyExists, NotFound, Forbidden):
            pass  # raced with another writer, or the namespace is going away

    def _needs_update(self, current: JSON) -> bool:
        annotations = current["metadata"].get("annotations") or {}
        return current.get("data") != {DATA_KEY: self.ca} or annotations.get(DESCRIPTION_ANNOTATION) != DESCRIPTION

    def _desired(self, namespace: str, current: JSON) -> JSON:
        meta = dict(current.get("metadata") or {"name": ROOT_CA_CONFIGMAP, "namespace": namespace})
        meta["annotations"] = {**(meta.get("annotations") or {}), DESCRIPTION_ANNOTATION: DESCRIPTION}
        return {**current, "apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {DATA_KEY: self.ca}}
