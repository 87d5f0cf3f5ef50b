"""Discovery and OpenAPI with custom resources added to the built-in surface."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import Any

import orjson

from kubeplane.apiserver import openapi
from kubeplane.catalog import Catalog, ResourceInfo

from . import names

JSON = dict[str, Any]

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
_API_VERSION_DOC = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                    "convert recognized schemas to the latest internal value, and may reject unrecognized values.")
_KIND_DOC = ("Kind is a string value representing the REST resource this object represents. Servers may infer "
             "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.")


class ServedCatalog(Catalog):
    """A minor's catalog with the served custom resources added (discovery reads it like any catalog)."""

    def __init__(self, base: Catalog, custom: Iterable[ResourceInfo]) -> None:
        # Catalog.__init__ derives the built-ins from schemas; here they are taken from ``base``.
        self.minor = base.minor
        known = {(r.group, r.version, r.resource) for r in base.resources}
        self.resources = [*base.resources, *(r for r in custom if (r.group, r.version, r.resource) not in known)]
        self._by_resource = {(r.group, r.version, r.resource): r for r in self.resources}
        self._by_kind = {(r.group, r.version, r.kind): r for r in self.resources}
        self._groups = self._order_groups()
        self._group_by_name = {g.name: g for g in self._groups}


def definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's name for a CRD's definition: the group reversed, then version and kind."""
    return ".".join([*reversed(group.split(".")), version, kind])


def with_definitions(resources: Iterable[ResourceInfo]) -> list[ResourceInfo]:
    return [dataclasses.replace(r, definition=definition_name(r.group, r.version, r.kind)) for r in resources]


def _ref(name: str, prefix: str, v3: bool, description: str = "") -> JSON:
    if v3:
        node: JSON = {"allOf": [{"$ref": prefix + name}]}
        if description:
            node["description"] = description
        return node
    node = {"$ref": prefix + name}
    if description:
        node["description"] = description
    return node


def crd_definitions(crd: JSON, prefix: str, v3: bool) -> JSON:
    """The object and list definitions of each served version of ``crd``."""
    spec = names.spec(crd)
    group = str(spec.get("group") or "")
    accepted = names.accepted_names(crd) or names.Names.of(spec.get("names"))
    out: JSON = {}
    for version in names.served_versions(crd):
        version_name = str(version.get("name"))
        schema = copy.deepcopy(names.open_api_schema(version) or {"type": "object"})
        properties = schema.setdefault("properties", {})
        properties["apiVersion"] = {"type": "string", "description": _API_VERSION_DOC}
        properties["kind"] = {"type": "string", "description": _KIND_DOC}
        properties["metadata"] = _ref(_OBJECT_META, prefix, v3, "Standard object's metadata.")
        schema["x-kubernetes-group-version-kind"] = [{"group": group, "version": version_name,
                                                      "kind": accepted.kind}]
        object_name = definition_name(group, version_name, accepted.kind)
        out[object_name] = schema
        out[definition_name(group, version_name, accepted.list_kind)] = {
            "description": f"{accepted.list_kind} is a list of {accepted.kind}",
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string", "description": _API_VERSION_DOC},
                "items": {"type": "array", "description": f"List of {accepted.plural}.",
                          "items": {"$ref": prefix + object_name}},
                "kind": {"type": "string", "description": _KIND_DOC},
                "metadata": _ref(_LIST_META, prefix, v3, "Standard list metadata."),
            },
            "x-kubernetes-group-version-kind": [{"group": group, "version": version_name,
                                                 "kind": accepted.list_kind}],
        }
    return out


def openapi_v2(minor: str, crds: Iterable[JSON], resources: Iterable[ResourceInfo]) -> openapi.Document:
    """The built-in v2 document with the custom resources' paths and definitions added."""
    content: JSON = orjson.loads(openapi.openapi_v2(minor).body)
    prefix = openapi.V2_REF_PREFIX
    content["paths"].update(openapi.resource_paths(minor, with_definitions(resources), prefix, v3=False))
    for crd in crds:
        content["definitions"].update(crd_definitions(crd, prefix, v3=False))
    return openapi.document(content)


def custom_group_versions(resources: Iterable[ResourceInfo]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for r in resources:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen


def openapi_v3_document(minor: str, crds: Iterable[JSON], resources: list[ResourceInfo],
                        path: str) -> openapi.Document | None:
    """The v3 document of one custom group version (``apis/<group>/<version>``), or None."""
    prefix = openapi.V3_REF_PREFIX
    for group, version in custom_group_versions(resources):
        if openapi.v3_path(group, version) != path:
            continue
        served = with_definitions(r for r in resources if (r.group, r.version) == (group, version))
        schemas = openapi.converted_definitions(minor, [_OBJECT_META, _LIST_META], prefix, v3=True)
        for crd in crds:
            if names.spec(crd).get("group") == group:
                schemas.update({k: v for k, v in crd_definitions(crd, prefix, v3=True).items()
                                if f".{version}." in k})
        return openapi.document({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
            "paths": openapi.resource_paths(minor, served, prefix, v3=True),
            "components": {"schemas": schemas},
        })
    return None


def openapi_v3_index(minor: str, crds: list[JSON], resources: list[ResourceInfo]) -> openapi.Document:
    content: JSON = orjson.loads(openapi.openapi_v3_index(minor).body)
    for group, version in custom_group_versions(resources):
        path = openapi.v3_path(group, version)
        document = openapi_v3_document(minor, crds, resources, path)
        if document is not None:
            content["paths"][path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={document.hash}"}
    return openapi.document(content)
