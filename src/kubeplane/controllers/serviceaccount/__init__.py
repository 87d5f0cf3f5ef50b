"""The service account controller: a ``default`` ServiceAccount in every namespace."""

from kubeplane.controllers.serviceaccount.controller import SERVICEACCOUNTS, ServiceAccountController

__all__ = ["SERVICEACCOUNTS", "ServiceAccountController"]
