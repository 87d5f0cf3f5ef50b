"""ServiceAccount: every pod runs as a service account that exists, and gets its API token as a
projected volume (``kube-api-access-xxxxx``) mounted in every container, as upstream injects it."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects

JSON = dict[str, Any]

DEFAULT_SERVICE_ACCOUNT = "default"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# A bound token lives an hour plus the 7 s upstream adds so that kubelets refresh before expiry.
TOKEN_EXPIRATION_SECONDS = 3607
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
# Upstream's utilrand alphabet: no vowels (no words) and no look-alike characters.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# A service account created a moment ago may not be readable yet; upstream waits briefly too.
_LOOKUP_ATTEMPTS = 5
_LOOKUP_PAUSE_SECONDS = 0.2


def token_volume(name: str) -> JSON:
    return {"name": name, "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}},
    ]}}


class ServiceAccountAdmission:
    name = "ServiceAccount"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects

    async def admit(self, attrs: Attributes) -> None:
        if attrs.operation != CREATE or not attrs.is_main("", "pods") or attrs.object is None:
            return
        pod = attrs.object
        spec = pod.setdefault("spec", {})
        if ((pod.get("metadata") or {}).get("annotations") or {}).get(MIRROR_POD_ANNOTATION) is not None:
            if spec.get("serviceAccountName"):
                raise attrs.forbidden("a mirror pod may not reference service accounts")
            return
        sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccountName"] = sa_name
        # The deprecated alias follows, as upstream's conversion keeps them equal.
        spec["serviceAccount"] = sa_name
        account = await self._lookup(attrs.namespace, sa_name)
        if account is None:
            raise attrs.forbidden(f"error looking up service account {attrs.namespace}/{sa_name}: "
                                  f'serviceaccount "{sa_name}" not found')
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": ref.get("name", "")} for ref in account["imagePullSecrets"]]
        if self._automount(spec, account):
            self._mount_token(spec)

    async def _lookup(self, namespace: str, name: str) -> JSON | None:
        for attempt in range(_LOOKUP_ATTEMPTS):
            account = await self.objects.get("", "serviceaccounts", namespace, name)
            if account is not None or attempt == _LOOKUP_ATTEMPTS - 1:
                return account
            await asyncio.sleep(_LOOKUP_PAUSE_SECONDS)
        return None

    @staticmethod
    def _automount(spec: JSON, account: JSON) -> bool:
        if spec.get("automountServiceAccountToken") is not None:
            return bool(spec["automountServiceAccountToken"])
        if account.get("automountServiceAccountToken") is not None:
            return bool(account["automountServiceAccountToken"])
        return True

    @staticmethod
    def _mount_token(spec: JSON) -> None:
        containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
        # A pod that mounts something at the token path itself keeps it (upstream skips injection).
        if any(m.get("mountPath") == TOKEN_MOUNT_PATH for c in containers for m in c.get("volumeMounts") or ()):
            return
        existing = {v.get("name") for v in spec.get("volumes") or ()}
        name = VOLUME_PREFIX + "".join(random.choices(_ALPHABET, k=5))
        while name in existing:
            name = VOLUME_PREFIX + "".join(random.choices(_ALPHABET, k=5))
        spec.setdefault("volumes", []).append(token_volume(name))
        for container in containers:
            container.setdefault("volumeMounts", []).append(
                {"name": name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})
