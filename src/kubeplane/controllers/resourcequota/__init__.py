"""The resource quota controller: ResourceQuota status (upstream ``pkg/controller/resourcequota``)."""

from kubeplane.controllers.resourcequota.controller import RESOURCEQUOTAS, ResourceQuotaController

__all__ = ["RESOURCEQUOTAS", "ResourceQuotaController"]
