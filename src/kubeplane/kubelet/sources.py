"""What pods reference from the API (configMaps, secrets, service-account tokens), read through
the kubelet's client. Tokens are cached and renewed at 80% of their life, as upstream's token
manager does."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from kubeplane.client import Client, NotFound, Resource
from kubeplane.client.resource import CONFIGMAPS, SECRETS

JSON = dict[str, Any]

SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
TOKEN_REFRESH_FRACTION = 0.8
MAX_TOKEN_AGE = 24 * 3600.0


class ApiObjectSource:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._tokens: dict[tuple[str, ...], tuple[str, float, float]] = {}  # key -> (token, issued, expires)

    async def _get(self, resource: Resource, namespace: str, name: str) -> JSON | None:
        try:
            return await self.client.get(resource, name, namespace)
        except NotFound:
            return None

    async def configmap(self, namespace: str, name: str) -> JSON | None:
        return await self._get(CONFIGMAPS, namespace, name)

    async def secret(self, namespace: str, name: str) -> JSON | None:
        return await self._get(SECRETS, namespace, name)

    async def service_account_token(self, pod: JSON, audience: str, expiration_seconds: int) -> str:
        """A token for the pod's service account, bound to the pod (TokenRequest)."""
        metadata = pod.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "default")
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        key = (str(metadata.get("uid")), account, audience, str(expiration_seconds))
        now = time.time()
        cached = self._tokens.get(key)
        if cached is not None:
            token, issued, expires = cached
            if now < issued + min((expires - issued) * TOKEN_REFRESH_FRACTION, MAX_TOKEN_AGE):
                return token
        request: JSON = {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [audience] if audience else [], "expirationSeconds": expiration_seconds,
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": metadata.get("name"),
                                        "uid": metadata.get("uid")}},
        }
        response = await self.client.create(SERVICEACCOUNTS, request, namespace, subresource="token", name=account)
        status = response.get("status") or {}
        expiry = status.get("expirationTimestamp")
        expires = datetime.fromisoformat(expiry.replace("Z", "+00:00")).timestamp() if expiry \
            else now + expiration_seconds
        self._tokens[key] = (str(status["token"]), now, expires)
        return str(status["token"])

    def forget_pod(self, uid: str) -> None:
        for key in [key for key in self._tokens if key[0] == uid]:
            del self._tokens[key]
