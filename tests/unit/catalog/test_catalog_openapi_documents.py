"""OpenAPI v2/v3 documents rebuilt from the JSON-schema definitions."""

from __future__ import annotations

from typing import Any

import orjson

from kubeplane.apiserver import openapi


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_v2_document_is_plain_swagger() -> None:
    document = orjson.loads(openapi.openapi_v2("1.35").body)
    assert document["swagger"] == "2.0"
    definitions = document["definitions"]
    pod = definitions["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["metadata"]["$ref"] == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert pod["properties"]["kind"] == {"description": pod["properties"]["kind"]["description"], "type": "string"}
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"
    for node in _walk(definitions):
        assert not isinstance(node.get("type"), list)
        assert not str(node.get("$ref", "#/definitions/")).startswith("#/$defs/")
    get_pod = document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["get"]
    assert get_pod["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}


def test_v3_index_points_at_documents_by_hash() -> None:
    index = orjson.loads(openapi.openapi_v3_index("1.35").body)
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    document = openapi.openapi_v3_document("1.35", "apis/apps/v1")
    assert document is not None
    assert url == f"/openapi/v3/apis/apps/v1?hash={document.hash}"
    assert document.etag == f'"{document.hash}"'
    assert "api/v1" in index["paths"]
    assert openapi.openapi_v3_document("1.35", "apis/apps/v1beta1") is None


def test_v3_document_uses_components_and_allof_refs() -> None:
    built = openapi.openapi_v3_document("1.35", "apis/apps/v1")
    assert built is not None
    document = orjson.loads(built.body)
    schemas = document["components"]["schemas"]
    spec = schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    assert "io.k8s.api.core.v1.PodSpec" in schemas  # reached through the pod template
    assert "io.k8s.api.batch.v1.Job" not in schemas  # another group version's document
    assert "oneOf" in schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]


def test_documents_are_cached_and_stable() -> None:
    assert openapi.openapi_v2("1.35") is openapi.openapi_v2("1.35")
    assert openapi.openapi_v3_index("1.35").hash != openapi.openapi_v3_index("1.29").hash
