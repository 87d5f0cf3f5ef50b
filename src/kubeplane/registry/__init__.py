"""A cluster's local image registry (Debian's docker-registry, like an ECR VPC endpoint inside the
cluster's VPC) and the OCI distribution push that fills it."""

from kubeplane.registry.push import PushResult, RegistryError, push_archive
from kubeplane.registry.server import (
    REGISTRY_HOST,
    REGISTRY_PORT,
    LocalRegistry,
    RegistryInfo,
    load_registry_info,
)

__all__ = [
    "REGISTRY_HOST",
    "REGISTRY_PORT",
    "LocalRegistry",
    "PushResult",
    "RegistryError",
    "RegistryInfo",
    "load_registry_info",
    "push_archive",
]
