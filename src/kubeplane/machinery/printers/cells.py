"""Formatting shared by several printers: labels, selectors, containers, capped lists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

JSON = dict[str, Any]

NONE = "<none>"
UNSET = "<unset>"


def dig(obj: Mapping[str, Any] | None, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None as soon as a step is missing or not an object."""
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def items(obj: Mapping[str, Any] | None, *path: str) -> list[Any]:
    """A list field, or [] when unset."""
    value = dig(obj, *path)
    return value if isinstance(value, list) else []


def mapping(obj: Mapping[str, Any] | None, *path: str) -> dict[str, Any]:
    """A map field, or {} when unset."""
    value = dig(obj, *path)
    return value if isinstance(value, dict) else {}


def text(obj: Mapping[str, Any] | None, *path: str) -> str:
    """A string field, or "" when unset (Go's zero value)."""
    value = dig(obj, *path)
    return value if isinstance(value, str) else ""


def count(obj: Mapping[str, Any] | None, *path: str) -> int:
    """An integer field, or 0 when unset (Go's zero value)."""
    value = dig(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def name_of(obj: JSON) -> str:
    return text(obj, "metadata", "name")


def go_bool(value: bool) -> str:
    return "True" if value else "False"


def bool_or_unset(value: object) -> str:
    return go_bool(value) if isinstance(value, bool) else UNSET


def int_or_string(value: object) -> str:
    """``intstr.IntOrString.String()``."""
    return str(value)


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` pairs, ``<none>`` when empty."""
    if not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """``LabelSelectorAsSelector(s).String()``: requirements sorted by key, "" for nil or empty."""
    if not selector:
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in mapping(selector, "matchLabels").items():
        requirements.append((key, f"{key}={value}"))
    for expression in items(selector, "matchExpressions"):
        key = text(expression, "key")
        values = ",".join(sorted(str(v) for v in items(expression, "values")))
        operator = text(expression, "operator")
        rendered = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(operator, key)
        requirements.append((key, rendered))
    requirements.sort(key=lambda requirement: requirement[0])
    return ",".join(rendered for _, rendered in requirements)


def format_selector(selector: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: like ``selector_string`` but ``<none>`` when empty."""
    return selector_string(selector) or NONE


def containers_and_images(containers: Iterable[JSON]) -> tuple[str, str]:
    """``layoutContainerCells``: comma-joined container names and images."""
    listed = list(containers)
    return ",".join(text(c, "name") for c in listed), ",".join(text(c, "image") for c in listed)


def template_wide_cells(template_spec: JSON | None, selector: Mapping[str, Any] | None) -> list[Any]:
    """The CONTAINERS, IMAGES, SELECTOR cells that workload printers add for ``-o wide``."""
    names, images = containers_and_images(items(template_spec, "containers"))
    return [names, images, format_selector(selector)]


def capped(values: list[str], total: int, limit: int = 3, *, empty: str = UNSET) -> str:
    """``listWithMoreString``: the first ``limit`` values, then "+ N more..."."""
    shown = ",".join(values[:limit])
    if total > limit:
        return f"{shown} + {total - limit} more..."
    return shown or empty


def load_balancer_addresses(status: Mapping[str, Any] | None) -> list[str]:
    """IPs (else hostnames) of load-balancer ingress points, sorted and de-duplicated like sets.String."""
    found = {text(entry, "ip") or text(entry, "hostname") for entry in items(status, "ingress")}
    found.discard("")
    return sorted(found)
