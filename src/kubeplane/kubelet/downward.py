"""The downward API: pod fields and container resources as strings, for env vars and volumes."""

from __future__ import annotations

import math
import re
from typing import Any

from kubeplane.machinery.validation import quantity

JSON = dict[str, Any]

_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class DownwardAPIError(Exception):
    pass


def _format_map(values: JSON) -> str:
    # As upstream's FormatMap: sorted key="value" lines, values quoted Go-style.
    return "\n".join(f'{key}="{value!s}"'.replace("\n", "\\n") for key, value in sorted(values.items()))


def field_value(pod: JSON, path: str) -> str:
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    subscript = _SUBSCRIPT.match(path)
    if subscript:
        return str((metadata.get(subscript[1]) or {}).get(subscript[2], ""))
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    if path in ("metadata.labels", "metadata.annotations"):
        return _format_map(metadata.get(path.split(".", 1)[1]) or {})
    if path in ("status.podIPs", "status.hostIPs"):
        return ",".join(str(entry.get("ip", "")) for entry in status.get(path.split(".", 1)[1]) or [])
    raise DownwardAPIError(f"unsupported fieldPath: {path}")


def resource_value(pod: JSON, ref: JSON, default_container: str, node_allocatable: JSON) -> str:
    """``limits.cpu`` and friends of a container, divided by ``divisor`` and rounded up; an unset
    limit is the node's allocatable, as upstream."""
    name = ref.get("containerName") or default_container
    spec = pod.get("spec") or {}
    container = next((c for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
                      if c.get("name") == name), None)
    if container is None:
        raise DownwardAPIError(f"container {name!r} not found in pod")
    kind, _, resource = str(ref.get("resource") or "").partition(".")
    if kind not in ("limits", "requests") or not resource:
        raise DownwardAPIError(f"unsupported container resource: {ref.get('resource')}")
    resources = container.get("resources") or {}
    raw = (resources.get(kind) or {}).get(resource)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(resource)  # requests default to limits
    if raw is None and kind == "limits":
        raw = node_allocatable.get(resource)
    value = quantity.parse(raw if raw is not None else 0) or 0
    divisor = quantity.parse(ref.get("divisor") or "1") or 1
    return str(math.ceil(value / divisor))
