"""The service account controller: a ``default`` ServiceAccount in every namespace."""

from kubeplane.controllers.serviceaccount.controller import ServiceAccountController

__all__ = ["ServiceAccountController"]
