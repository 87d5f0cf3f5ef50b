"""kubectl with a ``kind: List`` manifest (apiVersion v1, items [...]) against a real API server.

kubectl unpacks a List client-side, but its client-side validation first looks up the List schema in
the server's OpenAPI document; that lookup must not fail with 406 or a missing definition.
"""

from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.integration

LIST_MANIFEST = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: colors
  data:
    color: blue
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    labels: {app: web}
  spec:
    replicas: 1
    selector:
      matchLabels: {app: web}
    template:
      metadata:
        labels: {app: web}
      spec:
        containers:
        - name: httpd
          image: busybox:1.35
"""


def test_apply_list_twice_then_get_and_delete(apiserver, namespace, tmp_path):
    manifest = tmp_path / "list.yaml"
    manifest.write_text(LIST_MANIFEST)

    first = apiserver.kubectl("apply", "-n", namespace, "-f", str(manifest)).stdout
    assert "configmap/colors created" in first
    assert "deployment.apps/web created" in first
    second = apiserver.kubectl("apply", "-n", namespace, "-f", str(manifest)).stdout
    assert "configmap/colors unchanged" in second
    assert "deployment.apps/web unchanged" in second

    names = apiserver.kubectl("get", "-n", namespace, "-f", str(manifest), "-o", "name").stdout.split()
    assert names == ["configmap/colors", "deployment.apps/web"]

    deleted = apiserver.kubectl("delete", "-n", namespace, "-f", str(manifest)).stdout
    assert 'configmap "colors" deleted' in deleted
    assert 'deployment.apps "web" deleted' in deleted
    left = apiserver.kubectl("get", "-n", namespace, "cm,deploy", "-o", "json").stdout
    assert [item["metadata"]["name"] for item in json.loads(left)["items"]] == []


def test_create_list_then_create_again_conflicts(apiserver, namespace, tmp_path):
    manifest = tmp_path / "list.yaml"
    manifest.write_text(LIST_MANIFEST)

    created = apiserver.kubectl("create", "-n", namespace, "-f", str(manifest)).stdout
    assert "configmap/colors created" in created
    assert "deployment.apps/web created" in created
    again = apiserver.kubectl("create", "-n", namespace, "-f", str(manifest), check=False)
    assert again.returncode != 0
    assert 'configmaps "colors" already exists' in again.stderr
    apiserver.kubectl("delete", "-n", namespace, "-f", str(manifest))


def test_list_with_invalid_item_field_is_rejected_by_validation(apiserver, namespace, tmp_path):
    """Validation still runs over the List's items (strict is kubectl's default)."""
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: bad}\n  bogusField: 1\n")
    result = apiserver.kubectl("apply", "-n", namespace, "-f", str(manifest), check=False)
    assert result.returncode != 0
    # kubectl's own validator (ValidationError), reading the protobuf document, not the server's.
    assert 'ValidationError(ConfigMap): unknown field "bogusField"' in result.stderr


def test_list_with_a_custom_resource_validates_against_the_crd_schema(apiserver, namespace, tmp_path):
    """With a CRD served, /openapi/v2 is the document that adds custom resources: its protobuf form
    must carry the CRD's schema too (here, ``kubectl wait`` and a List mixing built-in and custom)."""
    group = f"l{uuid.uuid4().hex[:8]}.example.com"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": {
                         "size": {"type": "integer", "minimum": 1},
                         "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}}]},
    }
    apiserver.kubectl("apply", "-f", "-", input=json.dumps(crd))
    try:
        apiserver.kubectl("wait", "--for=condition=Established", f"crd/gadgets.{group}", "--timeout=30s")
        items = [{"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g"},
                  "spec": {"size": 2, "extra": {"free": "form"}}},
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]
        manifest = tmp_path / "list.json"
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        applied = apiserver.kubectl("apply", "-n", namespace, "-f", str(manifest)).stdout
        assert f"gadget.{group}/g created" in applied
        assert "configmap/c created" in applied

        items[0]["spec"]["unknownField"] = True
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        rejected = apiserver.kubectl("apply", "-n", namespace, "-f", str(manifest), check=False)
        assert rejected.returncode != 0
        assert 'ValidationError(Gadget.spec): unknown field "unknownField"' in rejected.stderr
    finally:
        apiserver.kubectl("delete", "crd", f"gadgets.{group}", "--ignore-not-found", "--wait=false")
