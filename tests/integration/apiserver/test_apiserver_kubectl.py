"""kubectl against a real API server over real etcd: the everyday verbs and output formats."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: busybox:1.35
        command: ["httpd", "-f", "-p", "8080"]
        ports:
        - containerPort: 8080
        env:
        - {name: A, value: "1"}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
"""


def test_version_and_api_resources(apiserver):
    out = apiserver.kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["minor"] == "35"
    resources = apiserver.kubectl("api-resources").stdout
    assert "deployments" in resources and "deploy" in resources
    assert "apps/v1" in apiserver.kubectl("api-versions").stdout


def test_system_namespaces_and_kubernetes_service(apiserver):
    names = apiserver.kubectl("get", "ns", "-o", "name").stdout.split()
    for ns in ("namespace/default", "namespace/kube-system", "namespace/kube-public", "namespace/kube-node-lease"):
        assert ns in names
    svc = json.loads(apiserver.kubectl("get", "svc", "kubernetes", "-n", "default", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] == "198.19.0.1"


def test_apply_twice_is_a_noop_and_get_formats(apiserver, namespace):
    first = apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT).stdout
    assert "deployment.apps/web created" in first
    assert "service/web created" in first
    second = apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT).stdout
    assert "deployment.apps/web unchanged" in second
    assert "service/web unchanged" in second
    assert "configmap/settings unchanged" in second

    table = apiserver.kubectl("get", "deploy", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["web", "0/2"]
    wide = apiserver.kubectl("get", "deploy", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    svc = apiserver.kubectl("get", "svc", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    assert svc.startswith("198.19.")
    cols = apiserver.kubectl("get", "cm", "-n", namespace, "-o",
                             "custom-columns=NAME:.metadata.name,COLOR:.data.color").stdout
    assert "settings" in cols and "blue" in cols
    obj = json.loads(apiserver.kubectl("get", "deploy", "web", "-n", namespace, "-o", "json").stdout)
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    assert obj["metadata"]["generation"] == 1
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_apply_change_merges_strategically(apiserver, namespace):
    apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT)
    changed = DEPLOYMENT.replace('- {name: A, value: "1"}', '- {name: A, value: "1"}\n        - {name: B, value: "2"}')
    changed = changed.replace("replicas: 2", "replicas: 3")
    out = apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=changed).stdout
    assert "deployment.apps/web configured" in out
    obj = json.loads(apiserver.kubectl("get", "deploy", "web", "-n", namespace, "-o", "json").stdout)
    env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["A", "B"]
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["generation"] == 2


def test_label_annotate_patch_scale_delete(apiserver, namespace):
    apiserver.kubectl("create", "configmap", "c1", "-n", namespace, "--from-literal=a=b")
    apiserver.kubectl("label", "cm", "c1", "-n", namespace, "tier=gold")
    apiserver.kubectl("annotate", "cm", "c1", "-n", namespace, "note=hi")
    obj = json.loads(apiserver.kubectl("get", "cm", "c1", "-n", namespace, "-o", "json").stdout)
    assert obj["metadata"]["labels"] == {"tier": "gold"}
    assert obj["metadata"]["annotations"]["note"] == "hi"
    assert apiserver.kubectl("get", "cm", "-n", namespace, "-l", "tier=gold", "-o", "name").stdout.strip() == \
        "configmap/c1"
    assert apiserver.kubectl("get", "cm", "-n", namespace, "-l", "tier!=gold", "-o", "name").stdout.strip() == ""
    apiserver.kubectl("patch", "cm", "c1", "-n", namespace, "--type=merge", "-p", '{"data":{"x":"y"}}')
    apiserver.kubectl("patch", "cm", "c1", "-n", namespace, "--type=json",
                      "-p", '[{"op":"remove","path":"/data/a"}]')
    obj = json.loads(apiserver.kubectl("get", "cm", "c1", "-n", namespace, "-o", "json").stdout)
    assert obj["data"] == {"x": "y"}
    apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT)
    apiserver.kubectl("scale", "deploy", "web", "-n", namespace, "--replicas=5")
    assert apiserver.kubectl("get", "deploy", "web", "-n", namespace, "-o",
                             "jsonpath={.spec.replicas}").stdout == "5"
    out = apiserver.kubectl("delete", "cm", "c1", "-n", namespace, "--wait").stdout
    assert 'configmap "c1" deleted' in out
    missing = apiserver.kubectl("get", "cm", "c1", "-n", namespace, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_field_validation_strict_rejects_unknown_fields(apiserver, namespace):
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: b}\nbogus: 1\n"
    result = apiserver.kubectl("create", "-n", namespace, "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert 'unknown field "bogus"' in result.stderr
    assert apiserver.kubectl("get", "cm", "bad", "-n", namespace, check=False).returncode != 0


def test_diff_and_explain(apiserver, namespace):
    apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT)
    same = apiserver.kubectl("diff", "-n", namespace, "-f", "-", input=DEPLOYMENT, check=False)
    assert same.returncode == 0, same.stderr
    changed = apiserver.kubectl("diff", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("replicas: 2",
                                                                                           "replicas: 4"),
                                check=False)
    assert changed.returncode == 1, changed.stderr
    assert "replicas: 4" in changed.stdout
    explain = apiserver.kubectl("explain", "pod.spec.containers").stdout
    assert "FIELD: containers" in explain or "containers" in explain
    assert "image" in explain


def test_edit_with_scripted_editor(apiserver, namespace, tmp_path):
    apiserver.kubectl("create", "configmap", "edited", "-n", namespace, "--from-literal=k=old")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/k: old/k: new/' \"$1\"\n")
    editor.chmod(0o755)
    apiserver.kubectl("edit", "cm", "edited", "-n", namespace, env={"KUBE_EDITOR": str(editor)})
    assert apiserver.kubectl("get", "cm", "edited", "-n", namespace, "-o", "jsonpath={.data.k}").stdout == "new"


def test_typed_create_commands_send_protobuf_and_work(apiserver, namespace):
    """kubectl's typed-client commands send protobuf bodies; the objects come out as JSON."""
    ns = f"{namespace}-x"
    apiserver.kubectl("create", "namespace", ns)
    apiserver.kubectl("create", "configmap", "pc", "-n", namespace, "--from-literal=a=b")
    apiserver.kubectl("create", "secret", "generic", "ps", "-n", namespace, "--from-literal=k=v")
    apiserver.kubectl("create", "deployment", "pd", "-n", namespace, "--image=busybox:1.35", "--replicas=0")
    apiserver.kubectl("create", "service", "clusterip", "psvc", "-n", namespace, "--tcp=80:8080")
    apiserver.kubectl("create", "job", "pj", "-n", namespace, "--image=busybox:1.35")
    assert apiserver.kubectl("get", "ns", ns, "-o", "jsonpath={.status.phase}").stdout == "Active"
    assert apiserver.kubectl("get", "cm", "pc", "-n", namespace, "-o", "jsonpath={.data.a}").stdout == "b"
    assert apiserver.kubectl("get", "secret", "ps", "-n", namespace, "-o", "jsonpath={.data.k}").stdout == "dg=="
    deployment = json.loads(apiserver.kubectl("get", "deploy", "pd", "-n", namespace, "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 0
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.35"
    svc = json.loads(apiserver.kubectl("get", "svc", "psvc", "-n", namespace, "-o", "json").stdout)
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    job = json.loads(apiserver.kubectl("get", "job", "pj", "-n", namespace, "-o", "json").stdout)
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"]["matchLabels"] == {"batch.kubernetes.io/controller-uid": uid}
    assert job["spec"]["template"]["metadata"]["labels"]["job-name"] == "pj"


def test_managed_fields_track_each_manager(apiserver, namespace):
    apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT)
    apiserver.kubectl("scale", "deploy", "web", "-n", namespace, "--replicas=4")
    obj = json.loads(apiserver.kubectl("get", "deploy", "web", "-n", namespace, "-o", "json",
                                       "--show-managed-fields").stdout)
    entries = {(e["manager"], e.get("subresource", "")): e for e in obj["metadata"]["managedFields"]}
    applied = entries[("kubectl-client-side-apply", "")]
    assert applied["operation"] == "Update" and applied["fieldsType"] == "FieldsV1"
    containers = applied["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert '.' in containers['k:{"name":"httpd"}']
    assert "f:image" in containers['k:{"name":"httpd"}']
    # kubectl scale took spec.replicas over through the scale subresource.
    scaled = entries[("kubectl", "scale")]
    assert "f:replicas" in scaled["fieldsV1"]["f:spec"]
    assert "f:replicas" not in applied["fieldsV1"]["f:spec"]
