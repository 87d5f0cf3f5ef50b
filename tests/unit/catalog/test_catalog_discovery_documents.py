"""Discovery documents built from the catalog, and aggregated-discovery negotiation."""

from __future__ import annotations

import pytest

from kubeplane.apiserver import discovery
from kubeplane.catalog import Catalog

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
PROTOBUF_V2 = "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.for_version("1.35")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (f"{PROTOBUF_V2},{V2},{V2BETA1},application/json", V2),  # what current kubectl sends
        (f"{V2BETA1},application/json", V2BETA1),
        ("application/json", None),
        ("*/*", None),
        (None, None),
        (f"application/json,{V2};q=0.5", None),
        ("application/json;g=apidiscovery.k8s.io;v=v1;as=APIGroupDiscoveryList", None),
    ],
)
def test_negotiate_discovery(accept: str | None, expected: str | None) -> None:
    assert discovery.negotiate_discovery(accept) == expected


def test_api_versions() -> None:
    assert discovery.api_versions("10.0.0.1:443") == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:443"}],
    }


def test_core_resource_list_has_subresources_with_foreign_kinds(catalog: Catalog) -> None:
    body = discovery.api_resource_list(catalog, "", "v1")
    assert body is not None
    assert (body["kind"], body["apiVersion"], body["groupVersion"]) == ("APIResourceList", "v1", "v1")
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["storageVersionHash"] == "xPOwRZ+Yhw8="
    assert by_name["pods/status"] == {
        "name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod",
        "verbs": ["get", "patch", "update"],
    }
    assert by_name["serviceaccounts/token"]["group"] == "authentication.k8s.io"
    assert by_name["replicationcontrollers/scale"]["version"] == "v1"
    assert "storageVersionHash" not in by_name["bindings"]
    names = [r["name"] for r in body["resources"]]
    assert names == sorted(names)  # upstream lists resources and subresources by name


def test_group_documents(catalog: Catalog) -> None:
    group = discovery.api_group(catalog, "autoscaling")
    assert group == {
        "kind": "APIGroup", "apiVersion": "v1", "name": "autoscaling",
        "versions": [{"groupVersion": "autoscaling/v2", "version": "v2"},
                     {"groupVersion": "autoscaling/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "autoscaling/v2", "version": "v2"},
    }
    assert discovery.api_group(catalog, "nope.example.com") is None
    assert discovery.api_resource_list(catalog, "apps", "v1beta1") is None
    group_list = discovery.api_group_list(catalog)
    assert group_list["kind"] == "APIGroupList"
    assert group_list["groups"][0]["name"] == "apps"


def test_aggregated_named_groups(catalog: Catalog) -> None:
    body = discovery.aggregated(catalog, core=False)
    assert (body["kind"], body["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    apps = next(item for item in body["items"] if item["metadata"]["name"] == "apps")
    (v1,) = apps["versions"]
    assert v1["version"] == "v1" and v1["freshness"] == "Current"
    deployments = next(r for r in v1["resources"] if r["resource"] == "deployments")
    assert deployments["responseKind"] == {"group": "", "version": "", "kind": "Deployment"}
    assert deployments["scope"] == "Namespaced" and deployments["singularResource"] == "deployment"
    assert deployments["subresources"][0] == {
        "subresource": "scale",
        "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
        "verbs": ["get", "patch", "update"],
    }


def test_aggregated_core_and_v2beta1(catalog: Catalog) -> None:
    body = discovery.aggregated(catalog, core=True, version=discovery.aggregated_version(V2BETA1))
    assert body["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    (core,) = body["items"]
    assert core["metadata"] == {"creationTimestamp": None}
    namespaces = next(r for r in core["versions"][0]["resources"] if r["resource"] == "namespaces")
    assert namespaces["scope"] == "Cluster"
    assert "deletecollection" not in namespaces["verbs"]
