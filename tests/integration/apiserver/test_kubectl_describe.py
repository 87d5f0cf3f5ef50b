"""kubectl behaviour against the real server: `kubectl describe` and `kubectl events`.

kubectl renders describe output itself, but every value it prints comes from the server: the
defaults the server fills in, and the follow-up queries describe makes (events by field selector
on involvedObject.*, the node's Lease in kube-node-lease, the node's pods by spec.nodeName and
status.phase!=..., quotas and limit ranges of a namespace). These tests pin what a user sees
against a real cluster for those queries."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def rfc3339(ago: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def create(apiserver: Any, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
    args = ("-n", namespace) if namespace else ()
    out = apiserver.kubectl("create", *args, "-f", "-", "-o", "json", input=json.dumps(obj)).stdout
    created: dict[str, Any] = json.loads(out)
    return created


def field(output: str, label: str) -> str:
    """The value of a top-level `Label:   value` line of describe output."""
    match = re.search(rf"^{re.escape(label)}:[ \t]*(.*)$", output, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{output}"
    return match.group(1).rstrip()


def section(output: str, title: str) -> list[str]:
    """The lines after a top-level `Title:` line up to the next top-level line."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    body = []
    for line in lines[start + 1:]:
        if line and not line.startswith(" "):
            break
        body.append(line)
    return body


def core_event(namespace: str, name: str, involved: dict[str, Any], reason: str, message: str,
               type_: str = "Normal", ago: timedelta = timedelta()) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {**involved, "namespace": namespace}, "reason": reason, "message": message,
            "type": type_, "source": {"component": "audit"}, "count": 1,
            "firstTimestamp": rfc3339(ago), "lastTimestamp": rfc3339(ago)}


def pod(name: str, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx:1.27",
                                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}}, "spec": spec}


# -- describe pod ----------------------------------------------------------------------------------

def test_describe_pod_shows_server_defaults_and_only_this_pods_events(apiserver: Any, namespace: str) -> None:
    # kubectl describe pod lists events with fieldSelector involvedObject.uid, .name and .namespace
    # (client-go typed/core/v1/event_expansion.go GetFieldSelector via kubectl/pkg/describe
    # searchEvents; kubectl 1.36 sends exactly those three, seen with -v=6, and limit=500): an event
    # about another object, or about an earlier pod of the same name (other uid), must not appear.
    created = create(apiserver, namespace, pod("web"))
    involved = {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": created["metadata"]["uid"]}
    for event in (core_event(namespace, "web.mine", involved, "Scheduled", "assigned to nowhere"),
                  core_event(namespace, "web2.x", {**involved, "name": "web2"}, "Other", "another pod"),
                  core_event(namespace, "web.old", {**involved, "uid": str(uuid.uuid4())}, "Killing", "old pod")):
        create(apiserver, namespace, event)

    out = apiserver.kubectl("describe", "pod", "web", "-n", namespace).stdout
    assert field(out, "Name") == "web"
    assert field(out, "Namespace") == namespace
    assert field(out, "Priority") == "0"  # the Priority admission plugin sets spec.priority 0
    assert field(out, "Node") == "<none>"
    assert field(out, "Status") == "Pending"  # PodStrategy.PrepareForCreate sets phase Pending
    assert field(out, "QoS Class") == "Burstable"  # status.qosClass is computed by the server
    # DefaultTolerationSeconds admission (default on upstream) adds the two 300 s tolerations.
    assert section(out, "Tolerations")[0].strip() == "node.kubernetes.io/unreachable:NoExecute op=Exists for 300s"
    assert field(out, "Tolerations") == "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s"
    events = section(out, "Events")
    assert events[0].split() == ["Type", "Reason", "Age", "From", "Message"]
    rows = [line.split(None, 4) for line in events[2:] if line.strip()]
    assert [(r[0], r[1], r[4]) for r in rows] == [("Normal", "Scheduled", "assigned to nowhere")], out


# -- describe deployment / service -----------------------------------------------------------------

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME, labels: {app: NAME}}
spec:
  replicas: 2
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      containers: [{name: c, image: "nginx:1.27", ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: NAME}
spec:
  selector: {app: NAME}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def test_describe_deployment_and_service_render_the_defaults_the_server_fills(apiserver: Any,
                                                                            namespace: str) -> None:
    # Deployment defaults (pkg/apis/apps/v1/defaults.go SetDefaults_Deployment): RollingUpdate with
    # 25%/25%, minReadySeconds 0; describe prints them as in kubectl/pkg/describe DeploymentDescriber.
    name = unique("web")
    apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("NAME", name))
    deploy = json.loads(apiserver.kubectl("get", "deploy", name, "-n", namespace, "-o", "json").stdout)
    create(apiserver, namespace, core_event(
        namespace, f"{name}.scaled", {"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                      "uid": deploy["metadata"]["uid"]},
        "ScalingReplicaSet", f"Scaled up replica set {name}-abc to 2"))

    out = apiserver.kubectl("describe", "deployment", name, "-n", namespace).stdout
    assert field(out, "Selector") == f"app={name}"
    assert field(out, "Replicas") == "2 desired | 0 updated | 0 total | 0 available | 0 unavailable"
    assert field(out, "StrategyType") == "RollingUpdate"
    assert field(out, "MinReadySeconds") == "0"
    assert field(out, "RollingUpdateStrategy") == "25% max unavailable, 25% max surge"
    assert "    Port:          8080/TCP" in out.splitlines()  # containerPort protocol defaults to TCP
    events = [line.split(None, 4) for line in section(out, "Events")[2:] if line.strip()]
    assert [(e[0], e[1], e[4]) for e in events] == [("Normal", "ScalingReplicaSet",
                                                     f"Scaled up replica set {name}-abc to 2")]

    # Service defaults (pkg/apis/core/v1/defaults.go SetDefaults_Service, and the single-stack
    # ipFamilies/ipFamilyPolicy the REST storage fills): describe prints each of them.
    svc = json.loads(apiserver.kubectl("get", "svc", name, "-n", namespace, "-o", "json").stdout)
    out = apiserver.kubectl("describe", "service", name, "-n", namespace).stdout
    assert field(out, "Selector") == f"app={name}"
    assert field(out, "Type") == "ClusterIP"
    assert field(out, "IP Family Policy") == "SingleStack"
    assert field(out, "IP Families") == "IPv4"
    assert field(out, "IP") == svc["spec"]["clusterIP"] and svc["spec"]["clusterIP"].startswith("198.19.")
    assert field(out, "IPs") == svc["spec"]["clusterIP"]
    assert field(out, "Port").split() == ["http", "80/TCP"]
    assert field(out, "TargetPort") == "8080/TCP"
    assert field(out, "Session Affinity") == "None"
    assert field(out, "Internal Traffic Policy") == "Cluster"
    assert field(out, "Events") == "<none>"


# -- describe namespace ----------------------------------------------------------------------------

def test_describe_namespace_lists_its_quota_and_limit_range(apiserver: Any, namespace: str) -> None:
    # kubectl/pkg/describe NamespaceDescriber lists resourcequotas and limitranges of the namespace;
    # the limit range rows come from spec (Type, Resource, Min, Max, Default Request, Default Limit).
    empty = apiserver.kubectl("describe", "namespace", namespace).stdout
    assert field(empty, "Status") == "Active"
    assert field(empty, "Labels") == f"kubernetes.io/metadata.name={namespace}"  # NamespaceStrategy adds it
    assert "No resource quota." in empty and "No LimitRange resource." in empty

    apiserver.kubectl("create", "quota", "q1", "--hard=pods=3", "-n", namespace)
    create(apiserver, namespace, {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                                  "spec": {"limits": [{"type": "Container", "default": {"cpu": "200m"},
                                                       "defaultRequest": {"cpu": "100m"}}]}})
    out = apiserver.kubectl("describe", "namespace", namespace).stdout
    quota = section(out, "Resource Quotas")
    assert quota[0].split() == ["Name:", "q1"]
    limits = section(out, "Resource Limits")
    assert limits[2].split() == ["Container", "cpu", "-", "-", "100m", "200m", "-"]


# -- describe node ---------------------------------------------------------------------------------

@pytest.fixture
def node(apiserver: Any) -> Iterator[str]:
    name = unique("audit-node")
    create(apiserver, None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"zone": "a"}},
                             "spec": {"podCIDR": "198.18.77.0/24"}})
    yield name
    apiserver.kubectl("delete", "node", name, "--ignore-not-found", "--wait=false")
    apiserver.kubectl("delete", "lease", name, "-n", "kube-node-lease", "--ignore-not-found", "--wait=false")


def test_describe_node_reads_its_lease_and_its_non_terminated_pods(apiserver: Any, namespace: str,
                                                                  node: str) -> None:
    # Without a Lease, describe prints the server's NotFound message verbatim
    # (kubectl/pkg/describe describeNode: "Lease:\tFailed to get lease: %s"); the error text is
    # apimachinery errors.NewNotFound: `leases.coordination.k8s.io "<name>" not found`.
    out = apiserver.kubectl("describe", "node", node).stdout
    assert field(out, "Lease") == f'Failed to get lease: leases.coordination.k8s.io "{node}" not found'
    assert field(out, "Labels") == "zone=a"
    assert field(out, "PodCIDR") == "198.18.77.0/24"
    assert field(out, "Non-terminated Pods") == "(0 in total)"

    create(apiserver, "kube-node-lease", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": node},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": "2026-01-02T03:04:05.000000Z"}})
    # describe finds the node's pods with fieldSelector
    # spec.nodeName=<node>,status.phase!=Succeeded,status.phase!=Failed (describeNode).
    create(apiserver, namespace, pod("running", node))
    create(apiserver, namespace, pod("finished", node))
    create(apiserver, namespace, pod("elsewhere"))
    status, body, _ = apiserver.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/finished/status",
                                        {"status": {"phase": "Succeeded"}}, "application/merge-patch+json")
    assert status == 200, body

    out = apiserver.kubectl("describe", "node", node).stdout
    lease = section(out, "Lease")
    assert [line.split(None, 1) for line in lease[:3]] == [
        ["HolderIdentity:", node], ["AcquireTime:", "<unset>"], ["RenewTime:", "Fri, 02 Jan 2026 03:04:05 +0000"]]
    assert field(out, "Non-terminated Pods") == "(1 in total)"
    pods = section(out, "Non-terminated Pods")
    assert [line.split()[:3] for line in pods[2:]] == [[namespace, "running", "100m"]], out


# -- kubectl events --------------------------------------------------------------------------------

def test_kubectl_events_sorts_filters_by_type_and_by_object(apiserver: Any, namespace: str) -> None:
    # kubectl events (kubectl/pkg/cmd/events) lists core/v1 events sorted oldest first by
    # lastTimestamp; --types filters client-side; --for adds the field selector involvedObject.kind
    # and involvedObject.name (and apiVersion) to the list call.
    assert apiserver.kubectl("events", "-n", namespace).stderr.strip() == \
        f"No events found in {namespace} namespace."
    web = {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "u1"}
    db = {"apiVersion": "v1", "kind": "Pod", "name": "db", "uid": "u2"}
    create(apiserver, namespace, core_event(namespace, "e-new", web, "Pulled", "newest", ago=timedelta(minutes=1)))
    create(apiserver, namespace, core_event(namespace, "e-old", db, "BackOff", "oldest", "Warning",
                                            ago=timedelta(minutes=30)))
    create(apiserver, namespace, core_event(namespace, "e-mid", web, "Created", "middle", ago=timedelta(minutes=5)))

    table = apiserver.kubectl("events", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert [line.split()[-1] for line in table[1:]] == ["oldest", "middle", "newest"]
    warnings = apiserver.kubectl("events", "-n", namespace, "--types=Warning").stdout.splitlines()
    assert [line.split()[1:] for line in warnings[1:]] == [["Warning", "BackOff", "Pod/db", "oldest"]]
    for_web = apiserver.kubectl("events", "-n", namespace, "--for", "pod/web").stdout.splitlines()
    assert [line.split()[-1] for line in for_web[1:]] == ["middle", "newest"]
