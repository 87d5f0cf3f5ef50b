"""Encryption at rest: EncryptionConfiguration providers applied to values on their way to etcd."""

from __future__ import annotations

from kubeplane.storage.encryption.config import EncryptionConfig, EncryptionConfigError, GroupResource
from kubeplane.storage.encryption.kv import EncryptingKV, StaleKeyValue
from kubeplane.storage.encryption.transformers import (
    ENCRYPTED_PREFIX,
    ProviderChain,
    TransformError,
)

__all__ = [
    "ENCRYPTED_PREFIX",
    "EncryptingKV",
    "EncryptionConfig",
    "EncryptionConfigError",
    "GroupResource",
    "ProviderChain",
    "StaleKeyValue",
    "TransformError",
]
