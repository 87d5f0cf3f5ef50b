"""``--encryption-provider-config``: an apiserver.config.k8s.io/v1 EncryptionConfiguration.

Each ``resources`` entry names resources (``secrets``, ``deployments.apps``, ``*.apps`` for a
group, ``*.`` for the core group, ``*.*`` for everything) and an ordered provider list. A
resource's chain is its exact entry, else its group's wildcard, else ``*.*``; resources no entry
covers are stored in plaintext.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeplane.machinery.configfile import read_yaml_file, typed_document
from kubeplane.storage.encryption.transformers import (
    AESCBCTransformer,
    AESGCMTransformer,
    IdentityTransformer,
    PrefixedTransformer,
    ProviderChain,
    SecretboxTransformer,
    Transformer,
    provider_prefix,
)

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
AES_KEY_SIZES = (16, 24, 32)
ANY = "*"


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
        for i, entry in enumerate(entries):
            where = f"resources[{i}]"
            if not isinstance(entry, dict):
                raise EncryptionConfigError(f"{where}: not an object")
            names = entry.get("resources")
            if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
                raise EncryptionConfigError(f"{where}.resources: a non-empty list of resource names is required")
            chain = ProviderChain(_providers(entry.get("providers"), f"{where}.providers"))
            for name in names:
                gr = GroupResource.parse(name)
                if gr.group == ANY and gr.resource != ANY:
                    raise EncryptionConfigError(f"{where}.resources: {name!r}: a resource in every group "
                                                "is not supported; use '*.*'")
                if gr in chains:
                    raise EncryptionConfigError(f"{where}.resources: {name!r} is named more than once")
                chains[gr] = chain
        return cls(chains)


_AES: dict[str, Callable[[bytes], Transformer]] = {"aescbc": AESCBCTransformer, "aesgcm": AESGCMTransformer}
_KNOWN = ("identity", "aescbc", "aesgcm", "secretbox", "kms")


def _providers(items: Any, where: str) -> list[PrefixedTransformer]:
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
            raise EncryptionConfigError(f"{here}: the kms provider is not supported yet")
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
