"""Adapt a CRD's structural schema to the schema walkers in ``kubeplane.machinery``.

The built-in machinery walks OpenAPI definitions that may ``$ref`` each other. A CRD schema is
self-contained, but its root (and every ``x-kubernetes-embedded-resource``) implicitly carries
``apiVersion``, ``kind`` and a full ObjectMeta that the CRD author does not spell out. Adding
those, with metadata pointing at the built-in ObjectMeta definition, lets the generic pruning
(``machinery.pruning``) treat a custom object exactly as upstream's CR pruning does.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]

OBJECT_META_REF = {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
_STRING = {"type": "string"}


def _with_type_meta(node: JSON) -> None:
    properties = node.setdefault("properties", {})
    properties["apiVersion"] = dict(_STRING)
    properties["kind"] = dict(_STRING)
    properties["metadata"] = dict(OBJECT_META_REF)


def _adapt(node: Any) -> None:
    if not isinstance(node, dict):
        return
    if node.get("x-kubernetes-embedded-resource") and not node.get("x-kubernetes-preserve-unknown-fields"):
        _with_type_meta(node)
    for child in (node.get("properties") or {}).values():
        _adapt(child)
    _adapt(node.get("items"))
    if isinstance(node.get("additionalProperties"), dict):
        _adapt(node["additionalProperties"])


def pruning_schema(schema: JSON) -> JSON:
    """A copy of ``schema`` with the implicit TypeMeta/ObjectMeta fields declared."""
    adapted = copy.deepcopy(schema)
    _adapt(adapted)
    _with_type_meta(adapted)
    return adapted
