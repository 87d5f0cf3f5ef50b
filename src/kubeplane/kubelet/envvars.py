"""A container's environment: env, envFrom (configMaps, secrets) and the downward API, resolved
in upstream's order (envFrom first, then env overriding it) with ``$(VAR)`` expansion of values."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Protocol

from kubeplane.kubelet.downward import DownwardAPIError, field_value, resource_value
from kubeplane.kubelet.expansion import expand, mapping_for

JSON = dict[str, Any]

# C identifiers are always fine; since 1.30 upstream accepts any printable ASCII but '='.
_ENV_NAME = re.compile(r"^[ -<>-~]+$")


class EnvError(Exception):
    """The container cannot be created (CreateContainerConfigError with this message)."""


class ObjectSource(Protocol):
    """Reads configMaps and secrets of a namespace; None when the object does not exist."""

    async def configmap(self, namespace: str, name: str) -> JSON | None: ...

    async def secret(self, namespace: str, name: str) -> JSON | None: ...


def configmap_values(configmap: JSON) -> dict[str, str]:
    values = dict(configmap.get("data") or {})
    for key, encoded in (configmap.get("binaryData") or {}).items():
        values[key] = base64.b64decode(encoded).decode(errors="replace")
    return values


def secret_values(secret: JSON) -> dict[str, str]:
    values = {key: base64.b64decode(encoded).decode(errors="replace")
              for key, encoded in (secret.get("data") or {}).items()}
    values.update(secret.get("stringData") or {})
    return values


async def _source_values(source: ObjectSource, kind: str, namespace: str, name: str) -> dict[str, str] | None:
    if kind == "configmap":
        configmap = await source.configmap(namespace, name)
        return None if configmap is None else configmap_values(configmap)
    secret = await source.secret(namespace, name)
    return None if secret is None else secret_values(secret)


async def _key_value(source: ObjectSource, kind: str, namespace: str, selector: JSON) -> str | None:
    name = str(selector.get("name") or "")
    key = str(selector.get("key") or "")
    optional = bool(selector.get("optional"))
    values = await _source_values(source, kind, namespace, name)
    if values is None:
        if optional:
            return None
        raise EnvError(f'{kind} "{name}" not found')
    if key not in values:
        if optional:
            return None
        kind_name = "ConfigMap" if kind == "configmap" else "Secret"
        raise EnvError(f"couldn't find key {key} in {kind_name} {namespace}/{name}")
    return values[key]


async def resolve_env(pod: JSON, container: JSON, source: ObjectSource, node_allocatable: JSON,
                      service_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Upstream's order: envFrom, then env (whose ``$(VAR)`` may refer to earlier variables and to
    the service-link variables), then the service-link variables no one defined."""
    services = service_env or {}
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    env: dict[str, str] = {}
    for env_from in container.get("envFrom") or []:
        prefix = str(env_from.get("prefix") or "")
        kind, ref = ("configmap", env_from.get("configMapRef")) if env_from.get("configMapRef") \
            else ("secret", env_from.get("secretRef"))
        if not ref:
            continue
        values = await _source_values(source, kind, namespace, str(ref.get("name") or ""))
        if values is None:
            if ref.get("optional"):
                continue
            raise EnvError(f'{kind} "{ref.get("name")}" not found')
        for key, value in values.items():
            if _ENV_NAME.match(prefix + key):  # upstream skips invalid names (with an event)
                env[prefix + key] = value
    for var in container.get("env") or []:
        name = str(var["name"])
        value_from = var.get("valueFrom")
        if not value_from:
            # Values may refer to variables defined before them (and envFrom's).
            env[name] = expand(str(var.get("value") or ""), mapping_for(env, services))
            continue
        try:
            resolved: str | None
            if value_from.get("fieldRef"):
                resolved = field_value(pod, str(value_from["fieldRef"].get("fieldPath") or ""))
            elif value_from.get("resourceFieldRef"):
                resolved = resource_value(pod, value_from["resourceFieldRef"], str(container["name"]), node_allocatable)
            elif value_from.get("configMapKeyRef"):
                resolved = await _key_value(source, "configmap", namespace, value_from["configMapKeyRef"])
            elif value_from.get("secretKeyRef"):
                resolved = await _key_value(source, "secret", namespace, value_from["secretKeyRef"])
            else:
                resolved = None
        except DownwardAPIError as error:
            raise EnvError(str(error)) from None
        if resolved is not None:
            env[name] = resolved
    for name, value in services.items():
        env.setdefault(name, value)
    return env
