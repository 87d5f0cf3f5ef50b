"""What a DELETE without a propagation policy does: upstream's per-resource defaults."""

from typing import Any

import pytest

pytestmark = pytest.mark.integration

JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
       "spec": {"template": {"spec": {"restartPolicy": "Never",
                                      "containers": [{"name": "c", "image": "busybox"}]}}}}
RC = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
      "spec": {"replicas": 0, "selector": {"app": "legacy"},
               "template": {"metadata": {"labels": {"app": "legacy"}},
                            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}}


@pytest.mark.parametrize(("path", "body", "warned"), [
    ("/apis/batch/v1/namespaces/{ns}/jobs", JOB, True),
    ("/api/v1/namespaces/{ns}/replicationcontrollers", RC, False),
])
def test_jobs_and_replication_controllers_orphan_by_default(apiserver: Any, namespace: str, path: str,
                                                            body: dict[str, Any], warned: bool) -> None:
    collection = path.format(ns=namespace)
    name = body["metadata"]["name"]
    status, _, _ = apiserver.request("POST", collection, body)
    assert status == 201
    status, deleting, headers = apiserver.request("DELETE", f"{collection}/{name}")
    assert status == 200
    assert deleting["metadata"]["finalizers"] == ["orphan"]  # the garbage collector finishes it
    assert ("child pods are preserved by default" in headers.get("Warning", "")) is warned
    # An explicit policy overrides the default.
    status, _, _ = apiserver.request("DELETE", f"{collection}/{name}", {"propagationPolicy": "Background"})
    assert status == 200
    status, gone, _ = apiserver.request("GET", f"{collection}/{name}")
    assert status == 404, gone


def test_other_resources_delete_in_the_background_by_default(apiserver: Any, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/configmaps"
    apiserver.request("POST", collection, CM)
    status, _, headers = apiserver.request("DELETE", f"{collection}/plain")
    assert status == 200 and "Warning" not in headers
    assert apiserver.request("GET", f"{collection}/plain")[0] == 404
