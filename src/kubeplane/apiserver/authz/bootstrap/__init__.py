"""The default RBAC policy upstream's API server reconciles at start (bootstrappolicy)."""

from kubeplane.apiserver.authz.bootstrap.policy import bootstrap_policy

__all__ = ["bootstrap_policy"]
