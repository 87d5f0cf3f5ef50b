"""Discovery documents (``/api``, ``/apis``, ``/apis/<group>[/<version>]``), legacy and aggregated.

Pure functions from a :class:`~kubeplane.catalog.Catalog` to the JSON bodies kube-apiserver
returns; the HTTP layer chooses which one to send. Aggregated discovery
(``apidiscovery.k8s.io``) is what current kubectl asks for first; it answers a whole
``/api`` or ``/apis`` tree in one request.
"""

from __future__ import annotations

from typing import Any

from kubeplane.catalog import Catalog, ResourceInfo, SubresourceInfo

JSON = dict[str, Any]

AGGREGATED_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"
AGGREGATED_VERSIONS = ("v2", "v2beta1")  # newest first


def api_versions(server_address: str) -> JSON:
    """``/api``: the core group's versions (APIVersions)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_version(group: str, version: str) -> JSON:
    return {"groupVersion": f"{group}/{version}", "version": version}


def _api_group(catalog: Catalog, name: str) -> JSON | None:
    found = catalog.group(name)
    if found is None or not name:
        return None
    return {
        "name": name,
        "versions": [_group_version(name, v) for v in found.versions],
        "preferredVersion": _group_version(name, found.preferred_version),
    }


def api_group_list(catalog: Catalog) -> JSON:
    """``/apis``: every named group (APIGroupList)."""
    groups = [_api_group(catalog, g.name) for g in catalog.groups()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(catalog: Catalog, group: str) -> JSON | None:
    """``/apis/<group>`` (APIGroup), or None when the group is not served."""
    body = _api_group(catalog, group)
    return None if body is None else {"kind": "APIGroup", "apiVersion": "v1", **body}


def _legacy_entry(resource: ResourceInfo) -> JSON:
    entry: JSON = {
        "name": resource.resource,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.storage_version_hash:
        entry["storageVersionHash"] = resource.storage_version_hash
    return entry


def _legacy_subresource_entry(resource: ResourceInfo, name: str, sub: SubresourceInfo) -> JSON:
    entry: JSON = {
        "name": f"{resource.resource}/{name}",
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": sub.kind,
        "verbs": list(sub.verbs),
    }
    if sub.group or sub.version:  # only when the subresource speaks another group's kind
        entry["group"] = sub.group
        entry["version"] = sub.version
    return entry


def api_resource_list(catalog: Catalog, group: str, version: str) -> JSON | None:
    """``/api/v1`` or ``/apis/<group>/<version>`` (APIResourceList), or None when not served."""
    resources = catalog.resources_in(group, version)
    if not resources:
        return None
    entries = []
    for resource in resources:
        entries.append(_legacy_entry(resource))
        entries.extend(
            _legacy_subresource_entry(resource, name, sub)
            for name, sub in sorted(resource.subresources.items())
        )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": resources[0].group_version,
        "resources": entries,
    }


# --- aggregated discovery -------------------------------------------------------------------


def aggregated_content_type(version: str) -> str:
    # Parameter order and spelling are upstream's; client-go compares them to pick a decoder.
    return f"application/json;g={AGGREGATED_GROUP};v={version};as={AGGREGATED_KIND}"


def _media_range(item: str) -> tuple[str, dict[str, str]]:
    mime, *raw_params = (part.strip() for part in item.split(";"))
    params = {}
    for raw in raw_params:
        key, _, value = raw.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return mime.lower(), params


def _quality(params: dict[str, str]) -> float:
    try:
        return float(params.get("q", "1"))
    except ValueError:
        return 0.0


def negotiate_discovery(accept_header: str | None) -> str | None:
    """The aggregated-discovery content type to answer with, or None for the legacy documents.

    Ranges are tried by quality, then the more specific first (as upstream's negotiation does);
    aggregated protobuf is not offered, so such ranges are skipped.
    """
    if not accept_header:
        return None
    ranges = [_media_range(item) for item in accept_header.split(",") if item.strip()]
    ranked = sorted(ranges, key=lambda r: (-_quality(r[1]), -len(r[1])))
    for mime, params in ranked:
        if _quality(params) <= 0:
            continue
        asks_aggregated = params.get("g") == AGGREGATED_GROUP and params.get("as") == AGGREGATED_KIND
        if asks_aggregated and mime == "application/json" and params.get("v") in AGGREGATED_VERSIONS:
            return aggregated_content_type(params["v"])
        if not asks_aggregated and mime in ("application/json", "application/*", "*/*"):
            return None
    return None


def _response_kind(group: str, version: str, kind: str) -> JSON:
    return {"group": group, "version": version, "kind": kind}


def _aggregated_resource(resource: ResourceInfo) -> JSON:
    # The main kind is the group version's own, which upstream leaves empty in responseKind.
    entry: JSON = {
        "resource": resource.resource,
        "responseKind": _response_kind("", "", resource.kind),
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.subresources:
        entry["subresources"] = [
            {
                "subresource": name,
                "responseKind": _response_kind(sub.group, sub.version, sub.kind),
                "verbs": list(sub.verbs),
            }
            for name, sub in sorted(resource.subresources.items())
        ]
    return entry


def _aggregated_group(catalog: Catalog, group: str, versions: tuple[str, ...]) -> JSON:
    metadata: JSON = {"creationTimestamp": None}
    if group:
        metadata["name"] = group
    return {
        "metadata": metadata,
        "versions": [
            {
                "version": version,
                "resources": [_aggregated_resource(r) for r in catalog.resources_in(group, version)],
                "freshness": "Current",
            }
            for version in versions
        ],
    }


def aggregated(catalog: Catalog, core: bool, version: str = "v2") -> JSON:
    """APIGroupDiscoveryList for ``/api`` (core) or ``/apis`` (named groups).

    ``version`` is the negotiated ``apidiscovery.k8s.io`` version (v2 or v2beta1; same shape).
    """
    if core:
        groups = [_aggregated_group(catalog, "", ("v1",))]
    else:
        groups = [_aggregated_group(catalog, g.name, g.versions) for g in catalog.groups()]
    return {
        "kind": AGGREGATED_KIND,
        "apiVersion": f"{AGGREGATED_GROUP}/{version}",
        "metadata": {},
        "items": groups,
    }


def aggregated_version(content_type: str) -> str:
    """The apidiscovery version inside a content type chosen by :func:`negotiate_discovery`."""
    return _media_range(content_type)[1]["v"]
