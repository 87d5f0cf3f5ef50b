"""OpenAPI v2 (``/openapi/v2``) and v3 (``/openapi/v3``, ``/openapi/v3/<group-version path>``).

The documents are rebuilt from the JSON-schema definitions in :mod:`kubeplane.machinery.schema`
by undoing the JSON-schema conversion kubernetes-validate applied: nullable ``[T, "null"]``
types become ``T``, ``#/$defs/`` references point back into ``definitions`` (v2) or
``components/schemas`` (v3), and IntOrString / Quantity become the strings upstream declares.
Only definitions reachable from the served resources are included. Documents are big, so each
is built once per minor and kept as bytes with a content hash (the ETag and the v3 ``?hash=``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from kubeplane.catalog import Catalog, ResourceInfo, release
from kubeplane.machinery import schema

JSON = dict[str, Any]

_DEFS_PREFIX = "#/$defs/"
V2_REF_PREFIX = "#/definitions/"
V3_REF_PREFIX = "#/components/schemas/"

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING_DESCRIPTION = "IntOrString is a type that can hold an int32 or a string."
_QUANTITY_DESCRIPTION = (
    "Quantity is a fixed-point representation of a number, serialized as a string such as "
    "\"100m\" or \"1Gi\"."
)
# kubernetes-validate turns these two into nullable oneOfs without descriptions. v2 declares them
# strings; v3 declares the alternatives with oneOf and no top-level type (which is also what
# makes kubectl explain print <IntOrString> and <Quantity> instead of <string>).
_V2_REPLACED_DEFINITIONS: dict[str, JSON] = {
    _INT_OR_STRING: {
        "description": _INT_OR_STRING_DESCRIPTION,
        "type": "string",
        "format": "int-or-string",
        "x-kubernetes-int-or-string": True,
    },
    _QUANTITY: {"description": _QUANTITY_DESCRIPTION, "type": "string"},
}
_V3_REPLACED_DEFINITIONS: dict[str, JSON] = {
    _INT_OR_STRING: {
        "description": _INT_OR_STRING_DESCRIPTION,
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    },
    _QUANTITY: {"description": _QUANTITY_DESCRIPTION, "oneOf": [{"type": "string"}, {"type": "number"}]},
}

# Definitions every group version's document carries: the objects any endpoint can answer with.
_COMMON_DEFINITIONS = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
)

# Keys whose values are data (examples, defaults, allowed values), never schemas.
_DATA_KEYS = frozenset({"enum", "default", "example", "x-kubernetes-group-version-kind", "required"})
# Keys whose values map names to schemas.
_SCHEMA_MAP_KEYS = frozenset({"properties", "patternProperties", "definitions"})
# Keys whose values are lists of schemas.
_SCHEMA_LIST_KEYS = frozenset({"allOf", "anyOf", "oneOf"})


@dataclass(frozen=True)
class Document:
    """A serialized OpenAPI document and its content hash (upper-case hex sha512, as upstream)."""

    body: bytes
    hash: str

    @property
    def etag(self) -> str:
        return f'"{self.hash}"'


def _document(content: JSON) -> Document:
    body = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return Document(body, hashlib.sha512(body).hexdigest().upper())


def _convert_schema(node: Any, ref_prefix: str, v3: bool) -> Any:
    if not isinstance(node, dict):
        return node
    out: JSON = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            concrete = [t for t in value if t != "null"]
            if len(concrete) == 1:
                out[key] = concrete[0]
            elif concrete:
                out[key] = concrete
        elif key == "$ref" and isinstance(value, str) and value.startswith(_DEFS_PREFIX):
            out[key] = ref_prefix + value[len(_DEFS_PREFIX):]
        elif key in _DATA_KEYS:
            out[key] = value
        elif key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            out[key] = {name: _convert_schema(v, ref_prefix, v3) for name, v in value.items()}
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            out[key] = [_convert_schema(v, ref_prefix, v3) for v in value]
        else:
            out[key] = _convert_schema(value, ref_prefix, v3)
    if v3 and "$ref" in out and len(out) > 1:
        # OpenAPI 3.0 ignores siblings of $ref; upstream keeps descriptions by wrapping in allOf.
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def _convert_definition(name: str, node: JSON, ref_prefix: str, v3: bool) -> JSON:
    replaced = (_V3_REPLACED_DEFINITIONS if v3 else _V2_REPLACED_DEFINITIONS).get(name)
    if replaced is not None:
        return dict(replaced)
    converted: JSON = _convert_schema(node, ref_prefix, v3)
    if "x-kubernetes-group-version-kind" in converted:
        # kubernetes-validate pins apiVersion/kind with enums; upstream leaves them free strings.
        for field in ("apiVersion", "kind"):
            prop = converted.get("properties", {}).get(field)
            if isinstance(prop, dict):
                prop.pop("enum", None)
    return converted


def _references(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
            yield ref[len(_DEFS_PREFIX):]
        for key, value in node.items():
            if key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
                # Keys here are field names, not keywords: a field called "default" or "enum"
                # (JSONSchemaProps has both) is a schema like any other.
                for field_schema in value.values():
                    yield from _references(field_schema)
            elif key not in _DATA_KEYS:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _closure(defs: dict[str, JSON], roots: Iterable[str]) -> list[str]:
    """Names of the roots and every definition they reach, in a stable order."""
    seen: set[str] = set()
    pending = [name for name in roots if name in defs]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(ref for ref in _references(defs[name]) if ref in defs and ref not in seen)
    return sorted(seen)


def _root_definitions(minor: str, resources: Iterable[ResourceInfo]) -> list[str]:
    schemas = schema.schemas(minor)
    roots = list(_COMMON_DEFINITIONS)
    for resource in resources:
        roots.append(resource.definition)
        if resource.list_kind:
            roots.append(schemas.definition_name_for(resource.group, resource.version, resource.list_kind) or "")
        for sub in resource.subresources.values():
            group, version = (sub.group, sub.version) if sub.group or sub.version else (
                resource.group, resource.version)
            roots.append(schemas.definition_name_for(group, version, sub.kind) or "")
    return roots


def _definitions(minor: str, resources: Iterable[ResourceInfo], ref_prefix: str, v3: bool) -> JSON:
    defs = schema.definitions(minor)
    names = _closure(defs, _root_definitions(minor, resources))
    return {name: _convert_definition(name, defs[name], ref_prefix, v3) for name in names}


# (HTTP method, action, verb that enables it, on the item path rather than the collection)
_OPERATIONS = (
    ("get", "list", "list", False),
    ("post", "post", "create", False),
    ("delete", "deletecollection", "deletecollection", False),
    ("get", "get", "get", True),
    ("put", "put", "update", True),
    ("patch", "patch", "patch", True),
    ("delete", "delete", "delete", True),
)
_OPERATION_VERB = {"list": "list", "post": "create", "deletecollection": "deleteCollection",
                   "get": "read", "put": "replace", "patch": "patch", "delete": "delete"}
_STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"

# Query parameters of writes. kubectl looks for ``fieldValidation`` among a PATCH operation's
# parameters to decide whether the server validates fields itself (else it falls back to
# client-side validation against a protobuf OpenAPI v2 document).
_WRITE_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation")
_WRITE_ACTIONS = frozenset({"post", "put", "patch"})


def _query_parameter(name: str, v3: bool) -> JSON:
    if v3:
        return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    return {"name": name, "in": "query", "type": "string", "uniqueItems": True}


def _operation_id_prefix(group: str, version: str) -> str:
    """Upstream's operation-id spelling of a group version: "" -> CoreV1, rbac.authorization.k8s.io
    -> RbacAuthorizationV1."""
    words = group.removesuffix(".k8s.io").split(".") if group else ["core"]
    return "".join(w.capitalize() for w in words) + version.capitalize()


def _operation(
    resource: ResourceInfo, action: str, response: str, ref_prefix: str, v3: bool, all_namespaces: bool
) -> JSON:
    scoped = "Namespaced" if resource.namespaced and not all_namespaces else ""
    suffix = "ForAllNamespaces" if all_namespaces else ""
    reference = {"$ref": ref_prefix + response}
    ok = {"description": "OK", "content": {"application/json": {"schema": reference}}} if v3 else {
        "description": "OK", "schema": reference}
    operation: JSON = {
        "operationId": f"{_OPERATION_VERB[action]}{_operation_id_prefix(resource.group, resource.version)}"
                       f"{scoped}{resource.kind}{suffix}",
        "tags": [_operation_id_prefix(resource.group, resource.version)],
        "x-kubernetes-action": action,
        # kubectl explain finds a resource's kind through this extension on its paths.
        "x-kubernetes-group-version-kind": {
            "group": resource.group, "version": resource.version, "kind": resource.kind},
        "responses": {"200": ok},
    }
    if action in _WRITE_ACTIONS:
        operation["parameters"] = [_query_parameter(name, v3) for name in _WRITE_PARAMETERS]
    return operation


def _paths(minor: str, resources: Iterable[ResourceInfo], ref_prefix: str, v3: bool) -> JSON:
    """Collection and item paths of each resource (subresource paths are not described)."""
    schemas = schema.schemas(minor)
    paths: JSON = {}
    for resource in resources:
        base = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
        scope = f"{base}/namespaces/{{namespace}}" if resource.namespaced else base
        collection = f"{scope}/{resource.resource}"
        list_definition = schemas.definition_name_for(resource.group, resource.version, resource.list_kind)
        for method, action, verb, on_item in _OPERATIONS:
            if verb not in resource.verbs:
                continue
            response = {"list": list_definition or resource.definition, "deletecollection": _STATUS}.get(
                action, resource.definition)
            path = collection + "/{name}" if on_item else collection
            paths.setdefault(path, {})[method] = _operation(
                resource, action, response, ref_prefix, v3, all_namespaces=False)
        if resource.namespaced and "list" in resource.verbs and list_definition:
            paths[f"{base}/{resource.resource}"] = {"get": _operation(
                resource, "list", list_definition, ref_prefix, v3, all_namespaces=True)}
    return paths


def _info(minor: str) -> JSON:
    return {"title": "Kubernetes", "version": release(minor).git_version}


@functools.cache
def openapi_v2(minor: str) -> Document:
    """The swagger 2.0 document of every served resource of a minor."""
    catalog = Catalog.for_version(minor)
    return _document({
        "swagger": "2.0",
        "info": _info(minor),
        "paths": _paths(minor, catalog.resources, V2_REF_PREFIX, v3=False),
        "definitions": _definitions(minor, catalog.resources, V2_REF_PREFIX, v3=False),
    })


def _v3_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _served_group_versions(catalog: Catalog) -> list[tuple[str, str]]:
    core = [("", "v1")] if catalog.resources_in("", "v1") else []
    return core + [(g.name, v) for g in catalog.groups() for v in g.versions]


@functools.cache
def openapi_v3_document(minor: str, path: str) -> Document | None:
    """The OpenAPI 3.0 document for one group version path ("api/v1", "apis/apps/v1"), or None."""
    catalog = Catalog.for_version(minor)
    for group, version in _served_group_versions(catalog):
        if _v3_path(group, version) == path:
            resources = catalog.resources_in(group, version)
            return _document({
                "openapi": "3.0.0",
                "info": _info(minor),
                "paths": _paths(minor, resources, V3_REF_PREFIX, v3=True),
                "components": {
                    "schemas": _definitions(minor, resources, V3_REF_PREFIX, v3=True),
                },
            })
    return None


@functools.cache
def openapi_v3_index(minor: str) -> Document:
    """``/openapi/v3``: each group version path with the URL (carrying its content hash) to fetch."""
    catalog = Catalog.for_version(minor)
    paths = {}
    for group, version in _served_group_versions(catalog):
        path = _v3_path(group, version)
        document = openapi_v3_document(minor, path)
        assert document is not None  # the path came from the served group versions
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={document.hash}"}
    return _document({"paths": paths})


# --- pieces for documents that add resources (custom resources) to the built-in ones ----------


def converted_definitions(minor: str, roots: Iterable[str], ref_prefix: str, v3: bool) -> JSON:
    """Built-in definitions reachable from ``roots`` plus the common ones, converted for v2 or v3."""
    defs = schema.definitions(minor)
    names = _closure(defs, [*_COMMON_DEFINITIONS, *roots])
    return {name: _convert_definition(name, defs[name], ref_prefix, v3) for name in names}


def resource_paths(minor: str, resources: Iterable[ResourceInfo], ref_prefix: str, v3: bool) -> JSON:
    return _paths(minor, resources, ref_prefix, v3)


def document(content: JSON) -> Document:
    return _document(content)


def v3_path(group: str, version: str) -> str:
    return _v3_path(group, version)
