"""``--encryption-provider-config``: an apiserver.config.k8s.io/v1 EncryptionConfiguration.

Each ``resources`` entry names resources (``secrets``, ``deployments.apps``, ``*.apps`` for a
group, ``*.`` for the core group, ``*.*`` for everything) and an ordered provider list. A
resource's chain is its exact entry, else its group's wildcard, else ``*.*``; resources no entry
covers are stored in plaintext. ``kms`` providers (API version v2 only, as upstream since 1.29
disables v1) are built once per name: every resource naming the same plugin shares its DEK and cache.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeplane.machinery.configfile import read_yaml_file, typed_document
from kubeplane.storage.encryption.kms_client import KMSClient
from kubeplane.storage.encryption.kmsv2 import KMSv2Transformer, status_interval_from_env
from kubeplane.storage.encryption.transformers import (
    AESCBCTransformer,
    AESGCMTransformer,
    IdentityTransformer,
    PrefixedTransformer,
    ProviderChain,
    SecretboxTransformer,
    Transformer,
    kms_prefix,
    provider_prefix,
)

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
AES_KEY_SIZES = (16, 24, 32)
ANY = "*"
KMS_DEFAULT_TIMEOUT = 3.0  # seconds, upstream's default kms.timeout


class EncryptionConfigError(ValueError):
    """The configuration file is unreadable or invalid (the API server refuses to start)."""


@dataclass(frozen=True)
class GroupResource:
    group: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> GroupResource:
        """``secrets`` -> ("", secrets); ``deployments.apps`` -> (apps, deployments); ``*.`` -> ("", *)."""
        resource, _, group = text.partition(".")
        return cls(group, resource)


@dataclass
class EncryptionConfig:
    chains: dict[GroupResource, ProviderChain] = field(default_factory=dict)
    # kms providers by name, in the order the configuration first names them.
    kms: dict[str, KMSv2Transformer] = field(default_factory=dict)

    def envelopes(self) -> list[KMSv2Transformer]:
        return list(self.kms.values())

    def chain_for(self, group: str, resource: str) -> ProviderChain | None:
        """The providers for one resource, most specific entry first (as upstream looks them up)."""
        for candidate in (GroupResource(group, resource), GroupResource(group, ANY), GroupResource(ANY, ANY)):
            chain = self.chains.get(candidate)
            if chain is not None:
                return chain
        return None

    @classmethod
    def load(cls, path: str | Path) -> EncryptionConfig:
        document = read_yaml_file(path, "encryption provider config", EncryptionConfigError)
        return cls.parse(document)

    @classmethod
    def parse(cls, document: Any) -> EncryptionConfig:
        document = typed_document(document, "encryption provider config", API_VERSION, KIND, EncryptionConfigError)
        entries = document.get("resources")
        if not isinstance(entries, list) or not entries:
            raise EncryptionConfigError("resources: at least one entry is required")
        chains: dict[GroupResource, ProviderChain] = {}
        kms: dict[str, KMSv2Transformer] = {}
        for i, entry in enumerate(entries):
            where = f"resources[{i}]"
            if not isinstance(entry, dict):
                raise EncryptionConfigError(f"{where}: not an object")
            names = entry.get("resources")
            if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
                raise EncryptionConfigError(f"{where}.resources: a non-empty list of resource names is required")
            chain = ProviderChain(_providers(entry.get("providers"), f"{where}.providers", kms))
            for name in names:
                gr = GroupResource.parse(name)
                if gr.group == ANY and gr.resource != ANY:
                    raise EncryptionConfigError(f"{where}.resources: {name!r}: a resource in every group "
                                                "is not supported; use '*.*'")
                if gr in chains:
                    raise EncryptionConfigError(f"{where}.resources: {name!r} is named more than once")
                chains[gr] = chain
        return cls(chains, kms)


_AES: dict[str, Callable[[bytes], Transformer]] = {"aescbc": AESCBCTransformer, "aesgcm": AESGCMTransformer}
_KNOWN = ("identity", "aescbc", "aesgcm", "secretbox", "kms")


def _providers(items: Any, where: str, kms: dict[str, KMSv2Transformer]) -> list[PrefixedTransformer]:
    if not isinstance(items, list) or not items:
        raise EncryptionConfigError(f"{where}: at least one provider is required")
    out: list[PrefixedTransformer] = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        kinds = [k for k in (item or {}) if k in _KNOWN] if isinstance(item, dict) else []
        if len(kinds) != 1 or len(item) != 1:
            raise EncryptionConfigError(f"{here}: exactly one provider type of {', '.join(_KNOWN)} is required")
        kind = kinds[0]
        spec = item[kind] or {}
        if kind == "identity":
            out.append(PrefixedTransformer(b"", IdentityTransformer()))
        elif kind == "kms":
            out.append(_kms(spec, f"{here}.kms", kms))
        else:
            out.extend(_keyed(kind, spec, f"{here}.{kind}"))
    return out


def _keyed(kind: str, spec: Any, where: str) -> list[PrefixedTransformer]:
    """One prefixed transformer per key, in order: the first key encrypts, every key decrypts."""
    keys = spec.get("keys") if isinstance(spec, dict) else None
    if not isinstance(keys, list) or not keys:
        raise EncryptionConfigError(f"{where}.keys: at least one key is required")
    seen: set[str] = set()
    out: list[PrefixedTransformer] = []
    for i, key in enumerate(keys):
        here = f"{where}.keys[{i}]"
        name, secret = (key.get("name"), key.get("secret")) if isinstance(key, dict) else (None, None)
        if not isinstance(name, str) or not name or ":" in name:
            raise EncryptionConfigError(f"{here}.name: a non-empty name without ':' is required")
        if name in seen:
            raise EncryptionConfigError(f"{here}.name: {name!r} is used twice")
        seen.add(name)
        raw = _decode_secret(secret, here)
        out.append(PrefixedTransformer(provider_prefix(kind, name), _transformer(kind, raw, here)))
    return out


def _decode_secret(secret: Any, where: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise EncryptionConfigError(f"{where}.secret: a base64-encoded key is required")
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncryptionConfigError(f"{where}.secret: not valid base64") from exc


def _transformer(kind: str, raw: bytes, where: str) -> Transformer:
    if kind in _AES:
        if len(raw) not in AES_KEY_SIZES:
            raise EncryptionConfigError(f"{where}.secret: an AES key is 16, 24 or 32 bytes, got {len(raw)}")
        return _AES[kind](raw)
    if len(raw) != 32:
        raise EncryptionConfigError(f"{where}.secret: a secretbox key is 32 bytes, got {len(raw)}")
    try:
        return SecretboxTransformer(raw)
    except ImportError as exc:
        raise EncryptionConfigError(f"{where}: the secretbox provider needs PyNaCl, which is not "
                                    "installed") from exc


def _kms(spec: Any, where: str, known: dict[str, KMSv2Transformer]) -> PrefixedTransformer:
    """A ``kms`` provider: ``{apiVersion: v2, name, endpoint: unix:///path, timeout}``. The same
    name in several resource entries is one provider (upstream requires equal settings)."""
    if not isinstance(spec, dict):
        raise EncryptionConfigError(f"{where}: an object is required")
    version = spec.get("apiVersion", "v1")
    if version == "v1":
        raise EncryptionConfigError(f"{where}.apiVersion: KMSv1 is deprecated and disabled (as upstream "
                                    "since Kubernetes 1.29); use apiVersion: v2")
    if version != "v2":
        raise EncryptionConfigError(f"{where}.apiVersion: unsupported apiVersion {version!r} for KMS "
                                    "provider, only v1 and v2 are supported")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise EncryptionConfigError(f"{where}.name: Required value")
    if ":" in name:
        raise EncryptionConfigError(f"{where}.name: Invalid value: {name!r}: should not contain ':'")
    if "cachesize" in spec:
        raise EncryptionConfigError(f"{where}.cachesize: Invalid value: cachesize is not supported in v2")
    endpoint = spec.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise EncryptionConfigError(f"{where}.endpoint: Required value")
    scheme, sep, path = endpoint.partition("://")
    if not sep or scheme != "unix" or not path.startswith("/"):
        raise EncryptionConfigError(f"{where}.endpoint: Invalid value: {endpoint!r}: unsupported scheme "
                                    f"{scheme!r} for KMS provider, only unix:///<absolute path> is supported")
    timeout = _duration(spec.get("timeout"), f"{where}.timeout") if "timeout" in spec else KMS_DEFAULT_TIMEOUT
    existing = known.get(name)
    if existing is not None:
        if existing.client.endpoint != endpoint or existing.client.timeout != timeout:
            raise EncryptionConfigError(f"{where}.name: Invalid value: {name!r}: duplicate kms provider "
                                        "name with different settings")
        return PrefixedTransformer(kms_prefix(name), existing)
    status_interval = status_interval_from_env()
    envelope = KMSv2Transformer(name, KMSClient(endpoint, timeout), status_interval=status_interval)
    known[name] = envelope
    return PrefixedTransformer(kms_prefix(name), envelope)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(value: Any, where: str) -> float:
    """A Go duration (``3s``, ``500ms``, ``1m30s``) in seconds; it must be positive."""
    text = value if isinstance(value, str) else ""
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise EncryptionConfigError(f"{where}: Invalid value: {value!r}: not a duration (like 3s)")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise EncryptionConfigError(f"{where}: Invalid value: {value!r}: timeout should be a positive value")
    return seconds
