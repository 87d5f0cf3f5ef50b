"""The service account controller (upstream ``ServiceAccountsController``): every active
namespace has a ``default`` ServiceAccount; deleting it brings it back."""

from __future__ import annotations

from kubeplane.client import AlreadyExists, Forbidden, NotFound
from kubeplane.client.resource import SERVICEACCOUNTS
from kubeplane.controllers.controller import ControllerContext
from kubeplane.controllers.namespaced_object import PerNamespaceController

DEFAULT_SERVICE_ACCOUNT = "default"


class ServiceAccountController(PerNamespaceController):
    name = "serviceaccount"
    object_name = DEFAULT_SERVICE_ACCOUNT

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, SERVICEACCOUNTS)

    async def sync(self, key: str) -> None:
        if not self.active_namespace(key) or self.current(key) is not None:
            return
        body = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": key}}
        try:
            await self.client.create(SERVICEACCOUNTS, body, key)
        except (AlreadyExists, NotFound, Forbidden):
            pass  # someone made it already, or the namespace is gone or terminating
