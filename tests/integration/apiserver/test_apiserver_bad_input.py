"""Malformed, oversized, deeply nested and wrong-typed bodies: a 4xx Status, nothing stored, and the
server keeps serving."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def _assert_status(body, code: int, reason: str) -> None:
    assert isinstance(body, dict), body
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == code, body
    assert body["reason"] == reason, body


def _configmap(name: str, **extra) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}, **extra}


@pytest.mark.parametrize("raw, code, reason", [
    (b"{not json", 400, "BadRequest"),
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}', 400, "BadRequest"),
    (b"[1, 2, 3]", 400, "BadRequest"),
    (b'"just a string"', 400, "BadRequest"),
    (b'{"apiVersion": "v1", "kind": 7, "metadata": {"name": "badkind"}}', 400, "BadRequest"),
    (b'{"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}', 400, "BadRequest"),
    (b'{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}', 400, "BadRequest"),
    (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": "oops"}', 400, "BadRequest"),
], ids=["truncated", "unclosed", "array", "string", "kind-not-string", "wrong-group", "wrong-kind", "meta-not-object"])
def test_malformed_bodies_get_400(apiserver, namespace, raw, code, reason):
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", raw)
    assert status == code
    _assert_status(body, code, reason)
    _, listed, _ = apiserver.request("GET", f"/api/v1/namespaces/{namespace}/configmaps")
    assert listed["items"] == []


def test_malformed_yaml_gets_400(apiserver, namespace):
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                                        b"kind: ConfigMap\n  bad: [indent", content_type="application/yaml")
    assert status == 400
    _assert_status(body, 400, "BadRequest")


def test_yaml_bodies_are_accepted(apiserver, namespace):
    manifest = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml}\ndata: {k: v}\n"
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", manifest,
                                        content_type="application/yaml")
    assert status == 201, body
    assert body["data"] == {"k": "v"}


def test_bodies_over_three_mebibytes_get_413(apiserver, namespace):
    big = _configmap("huge")
    big["data"] = {"blob": "x" * (3 * 1024 * 1024 + 10)}
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", big)
    assert status == 413, body
    _assert_status(body, 413, "RequestEntityTooLarge")
    assert "limit is 3145728" in body["message"]


def test_objects_over_etcds_limit_get_413_and_nothing_is_stored(apiserver, namespace):
    big = _configmap("large")
    big["data"] = {"blob": "x" * (2 * 1024 * 1024)}
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", big)
    assert status in (413, 422), body["message"]  # 422 once ConfigMap's 1 MiB data limit is validated
    status, _, _ = apiserver.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/large")
    assert status == 404


def test_deeply_nested_bodies_are_refused(apiserver, namespace):
    raw = (
        b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":{},"extra":'
        + b'{"x":' * 5000 + b"{}" + b"}" * 5000 + b"}")
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", raw)
    assert 400 <= status < 500, body
    _assert_status(body, status, body["reason"])
    status, _, _ = apiserver.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/deep")
    assert status == 404


@pytest.mark.parametrize("name", ["Upper-Case", "under_score", "-leading", "x" * 254, "a/b"])
def test_bad_names_get_422_invalid(apiserver, namespace, name):
    status, body, _ = apiserver.request("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                                        _configmap(name))
    if name == "a/b":
        assert status in (400, 422), body
        return
    assert status == 422, body
    _assert_status(body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_wrong_typed_fields_are_upstreams_decoding_error(apiserver, namespace):
    """A create or update body is decoded into typed structs upstream: a wrongly typed value is a 400
    worded by Go's JSON decoder, nothing stored. A patch that produces one gets a 422 (Invalid)."""
    collection = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "typed"},
                  "spec": {"replicas": "three", "selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}},
                                        "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    expected = ('Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string '
                'into Go struct field DeploymentSpec.spec.replicas of type int32')
    status, body, _ = apiserver.request("POST", collection, deployment)
    _assert_status(body, 400, "BadRequest")
    assert body["message"] == expected
    assert apiserver.request("GET", f"{collection}/typed")[0] == 404
    deployment["spec"]["replicas"] = 1
    status, created, _ = apiserver.request("POST", collection, deployment)
    assert status == 201, created
    created["spec"]["replicas"] = "three"
    status, body, _ = apiserver.request("PUT", f"{collection}/typed", created)
    _assert_status(body, 400, "BadRequest")
    assert body["message"] == expected
    status, body, _ = apiserver.request("PATCH", f"{collection}/typed", {"spec": {"replicas": "three"}},
                                        "application/merge-patch+json")
    _assert_status(body, 422, "Invalid")
    status, stored, _ = apiserver.request("GET", f"{collection}/typed")
    assert stored["spec"]["replicas"] == 1


def test_protobuf_only_accept_gets_406_and_unknown_paths_404(apiserver):
    status, body, _ = apiserver.request("GET", "/api/v1/namespaces",
                                        headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert status == 406
    _assert_status(body, 406, "NotAcceptable")
    status, body, _ = apiserver.request("GET", "/api/v1/frobnicators")
    assert status == 404
    _assert_status(body, 404, "NotFound")


def test_server_keeps_serving_after_bad_input(apiserver):
    status, _, _ = apiserver.request("GET", "/readyz")
    assert status == 200
    status, body, _ = apiserver.request("GET", "/api/v1/namespaces/default")
    assert status == 200 and body["metadata"]["name"] == "default"


def test_anonymous_requests_are_forbidden_but_health_is_public(apiserver):
    """As upstream with --anonymous-auth=true (the default): no credentials makes the request
    system:anonymous, whom RBAC lets see health and /version only (401 is for bad credentials)."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=str(apiserver.pki.ca_cert))
    with urllib.request.urlopen(apiserver.url + "/readyz", context=context) as resp:
        assert resp.status == 200
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(apiserver.url + "/api/v1/namespaces", context=context)
    assert raised.value.code == 403
    assert json.loads(raised.value.read())["reason"] == "Forbidden"
