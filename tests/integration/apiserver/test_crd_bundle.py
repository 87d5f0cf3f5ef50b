"""A real-world CRD bundle, applied server-side with kubectl: the Dask Kubernetes operator's CRDs.

The bundle (data/dask-kubernetes-operator-crds.yaml, vendored from the PyPI wheel
dask-kubernetes 2026.3.0) embeds full core/v1 PodSpec and ServiceSpec schemas: ~420 KB of YAML,
over client-side apply's 256 KB annotation limit, which is why real users apply it server-side.
The samples are the operator's own test objects from the same wheel.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

DATA = Path(__file__).with_name("data")
BUNDLE = DATA / "dask-kubernetes-operator-crds.yaml"
SAMPLES = DATA / "dask-kubernetes-samples.yaml"
CRDS = ("daskclusters.kubernetes.dask.org", "daskworkergroups.kubernetes.dask.org",
        "daskautoscalers.kubernetes.dask.org")


def _resource_versions(apiserver: Any) -> dict[str, str]:
    listed = json.loads(apiserver.kubectl("get", "crd", *CRDS, "-o", "json").stdout)
    return {item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in listed["items"]}


@pytest.fixture
def dask_crds(apiserver: Any) -> Iterator[None]:
    try:
        first = apiserver.kubectl("apply", "--server-side", "-f", str(BUNDLE))
        assert first.stdout.count("serverside-applied") == len(CRDS), first.stdout
        apiserver.kubectl("wait", "--for=condition=Established", "--timeout=30s", *(f"crd/{n}" for n in CRDS))
        yield
    finally:
        apiserver.kubectl("delete", "-f", str(BUNDLE), "--ignore-not-found", "--timeout=60s", check=False)


def test_reapplying_the_bundle_is_a_no_op(apiserver: Any, dask_crds: None) -> None:
    before = _resource_versions(apiserver)
    again = apiserver.kubectl("apply", "--server-side", "-f", str(BUNDLE))
    assert again.stdout.count("serverside-applied") == len(CRDS), again.stdout
    assert _resource_versions(apiserver) == before
    cluster_crd = json.loads(apiserver.kubectl("get", "crd", CRDS[0], "-o", "json", "--show-managed-fields").stdout)
    # Server-side: no last-applied annotation (it could not hold this schema), kubectl owns the spec.
    assert "kubectl.kubernetes.io/last-applied-configuration" not in cluster_crd["metadata"].get("annotations", {})
    managers = {(e["manager"], e["operation"]) for e in cluster_crd["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    # kubectl explain reads the CRD's schema back through the OpenAPI v3 document.
    explained = apiserver.kubectl("explain", "daskclusters.spec.worker.spec.containers.ports.containerPort").stdout
    assert "FIELD: containerPort <integer>" in explained, explained
    explained = apiserver.kubectl("explain", "daskautoscalers.spec.maximum").stdout
    assert "Maximum number of workers" in explained, explained
    schema = cluster_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    pod_spec = schema["properties"]["spec"]["properties"]["worker"]["properties"]["spec"]
    assert "containers" in pod_spec["required"]


def test_sample_objects_apply_and_keep_their_deep_fields(apiserver: Any, namespace: str, dask_crds: None) -> None:
    applied = apiserver.kubectl("apply", "--server-side", "-n", namespace, "-f", str(SAMPLES))
    assert "daskcluster.kubernetes.dask.org/simple serverside-applied" in applied.stdout
    assert "daskworkergroup.kubernetes.dask.org/simple-additional serverside-applied" in applied.stdout

    cluster = json.loads(apiserver.kubectl("get", "daskcluster", "simple", "-n", namespace, "-o", "json").stdout)
    expected = next(yaml.safe_load_all(SAMPLES.read_text()))
    # Every field is in the schema (nothing pruned); the schema's default fills idleTimeout.
    assert cluster["spec"] == {**expected["spec"], "idleTimeout": 0}
    scheduler = cluster["spec"]["scheduler"]["spec"]["containers"][0]
    assert scheduler["readinessProbe"]["httpGet"]["port"] == "http-dashboard"  # int-or-string, as a name
    assert cluster["spec"]["scheduler"]["service"]["ports"][0]["targetPort"] == "tcp-comm"

    table = apiserver.kubectl("get", "daskclusters", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "WORKERS", "STATUS", "AGE"] and table[1].split()[:2] == ["simple", "2"]

    # The CRD's scale subresource points at .spec.worker.replicas.
    apiserver.kubectl("scale", "daskcluster", "simple", "-n", namespace, "--replicas=3")
    scaled = json.loads(apiserver.kubectl("get", "daskcluster", "simple", "-n", namespace, "-o", "json").stdout)
    assert scaled["spec"]["worker"]["replicas"] == 3

    reapplied = apiserver.kubectl("apply", "--server-side", "-n", namespace, "-f", str(SAMPLES),
                                  "--field-manager=kubectl", check=False)
    # kubectl applied replicas: 2, the scale (another manager) set 3: upstream's conflict.
    assert reapplied.returncode != 0 and "conflict" in reapplied.stderr.lower(), reapplied.stderr


def test_invalid_object_is_rejected_with_causes_deep_in_the_pod_spec(
        apiserver: Any, namespace: str, dask_crds: None) -> None:
    cluster = copy.deepcopy(next(yaml.safe_load_all(SAMPLES.read_text())))
    cluster["metadata"] = {"name": f"bad-{uuid.uuid4().hex[:6]}"}
    cluster["spec"]["worker"]["replicas"] = "two"
    cluster["spec"]["scheduler"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "comm"
    del cluster["spec"]["worker"]["spec"]["containers"][0]["name"]

    status, body, _ = apiserver.request(
        "POST", f"/apis/kubernetes.dask.org/v1/namespaces/{namespace}/daskclusters", cluster)
    assert status == 422, body
    assert (body["kind"], body["reason"]) == ("Status", "Invalid")
    causes = {(cause["field"], cause["reason"]) for cause in body["details"]["causes"]}
    assert causes >= {
        ("spec.worker.replicas", "FieldValueTypeInvalid"),
        ("spec.scheduler.spec.containers[0].ports[0].containerPort", "FieldValueTypeInvalid"),
        ("spec.worker.spec.containers[0].name", "FieldValueRequired"),
    }, body

    rejected = apiserver.kubectl("apply", "--server-side", "-n", namespace, "-f", "-",
                                 input=yaml.safe_dump(cluster), check=False)
    assert rejected.returncode != 0 and "spec.worker.replicas" in rejected.stderr, rejected.stderr
