"""Every served built-in resource through the real API server over raw HTTPS: the CRUD life cycle,
optimistic concurrency, status and scale subresources, and metadata.generation.

Expectations are upstream kube-apiserver's: status codes, Status reasons and message shapes.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
MERGE = "application/merge-patch+json"

POD_SPEC: JSON = {"containers": [{"name": "app", "image": "busybox:1.35"}]}
TEMPLATE: JSON = {"metadata": {"labels": {"app": "demo"}}, "spec": POD_SPEC}
JOB_TEMPLATE: JSON = {"spec": {"restartPolicy": "Never", "containers": POD_SPEC["containers"]}}
SELECTOR: JSON = {"matchLabels": {"app": "demo"}}
RBAC = "rbac.authorization.k8s.io"
RULES: list[JSON] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
SUBJECTS: list[JSON] = [{"kind": "User", "name": "alice", "apiGroup": RBAC}]


def _csr_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


@dataclass(frozen=True)
class Kind:
    """One served resource: where it lives and the fields (beside metadata) of a minimal valid object."""

    api_version: str
    kind: str
    resource: str
    namespaced: bool
    fields: JSON

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def qualified(self) -> str:
        """How upstream names the resource in messages: ``pods``, ``deployments.apps``."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def root(self) -> str:
        return f"/apis/{self.api_version}" if self.group else "/api/v1"

    def collection(self, namespace: str) -> str:
        scope = f"/namespaces/{namespace}" if self.namespaced else ""
        return f"{self.root()}{scope}/{self.resource}"

    def item(self, namespace: str, name: str) -> str:
        return f"{self.collection(namespace)}/{name}"

    def manifest(self, name: str) -> JSON:
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": {"name": name},
                **copy.deepcopy(self.fields)}


KINDS: dict[str, Kind] = {
    "core-namespaces": Kind("v1", "Namespace", "namespaces", False, {}),
    "core-pods": Kind("v1", "Pod", "pods", True, {"spec": POD_SPEC}),
    "core-services": Kind("v1", "Service", "services", True,
                          {"spec": {"selector": {"app": "demo"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    "core-endpoints": Kind("v1", "Endpoints", "endpoints", True,
                           {"subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 8080}]}]}),
    "core-configmaps": Kind("v1", "ConfigMap", "configmaps", True, {"data": {"color": "blue"}}),
    "core-secrets": Kind("v1", "Secret", "secrets", True,
                         {"type": "Opaque", "data": {"password": base64.b64encode(b"hunter2").decode()}}),
    "core-serviceaccounts": Kind("v1", "ServiceAccount", "serviceaccounts", True, {}),
    "core-nodes": Kind("v1", "Node", "nodes", False, {"spec": {"podCIDR": "10.244.1.0/24"}}),
    "core-events": Kind("v1", "Event", "events", True, {
        "involvedObject": {"kind": "Pod", "name": "demo", "apiVersion": "v1"}, "reason": "Started",
        "message": "started", "type": "Normal", "source": {"component": "tests"}}),
    "core-persistentvolumes": Kind("v1", "PersistentVolume", "persistentvolumes", False, {"spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/pv"}}}),
    "core-persistentvolumeclaims": Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, {"spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    "core-limitranges": Kind("v1", "LimitRange", "limitranges", True,
                             {"spec": {"limits": [{"type": "Container", "default": {"cpu": "100m"}}]}}),
    "core-resourcequotas": Kind("v1", "ResourceQuota", "resourcequotas", True, {"spec": {"hard": {"pods": "10"}}}),
    "core-replicationcontrollers": Kind("v1", "ReplicationController", "replicationcontrollers", True, {
        "spec": {"replicas": 1, "selector": {"app": "demo"}, "template": TEMPLATE}}),
    "core-podtemplates": Kind("v1", "PodTemplate", "podtemplates", True, {"template": TEMPLATE}),
    "apps-deployments": Kind("apps/v1", "Deployment", "deployments", True,
                             {"spec": {"replicas": 1, "selector": SELECTOR, "template": TEMPLATE}}),
    "apps-replicasets": Kind("apps/v1", "ReplicaSet", "replicasets", True,
                             {"spec": {"replicas": 1, "selector": SELECTOR, "template": TEMPLATE}}),
    "apps-statefulsets": Kind("apps/v1", "StatefulSet", "statefulsets", True, {
        "spec": {"replicas": 1, "serviceName": "demo", "selector": SELECTOR, "template": TEMPLATE}}),
    "apps-daemonsets": Kind("apps/v1", "DaemonSet", "daemonsets", True,
                            {"spec": {"selector": SELECTOR, "template": TEMPLATE}}),
    "apps-controllerrevisions": Kind("apps/v1", "ControllerRevision", "controllerrevisions", True,
                                     {"data": {"spec": {"template": TEMPLATE}}, "revision": 1}),
    "batch-jobs": Kind("batch/v1", "Job", "jobs", True, {"spec": {"template": JOB_TEMPLATE}}),
    "batch-cronjobs": Kind("batch/v1", "CronJob", "cronjobs", True, {"spec": {
        "schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": JOB_TEMPLATE}}}}),
    "coordination-leases": Kind("coordination.k8s.io/v1", "Lease", "leases", True,
                                {"spec": {"holderIdentity": "tests", "leaseDurationSeconds": 15}}),
    "discovery-endpointslices": Kind("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True, {
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.1.2.3"]}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
    "events-events": Kind("events.k8s.io/v1", "Event", "events", True, {
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "example.com/tests",
        "reportingInstance": "tests-1", "action": "Testing", "reason": "Started", "type": "Normal",
        "note": "started", "regarding": {"kind": "Pod", "name": "demo", "apiVersion": "v1"}}),
    "policy-poddisruptionbudgets": Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True,
                                        {"spec": {"minAvailable": 1, "selector": SELECTOR}}),
    "rbac-roles": Kind(f"{RBAC}/v1", "Role", "roles", True, {"rules": RULES}),
    "rbac-rolebindings": Kind(f"{RBAC}/v1", "RoleBinding", "rolebindings", True, {
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "reader"}, "subjects": SUBJECTS}),
    "rbac-clusterroles": Kind(f"{RBAC}/v1", "ClusterRole", "clusterroles", False, {"rules": RULES}),
    "rbac-clusterrolebindings": Kind(f"{RBAC}/v1", "ClusterRoleBinding", "clusterrolebindings", False, {
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "reader"}, "subjects": SUBJECTS}),
    "networking-ingresses": Kind("networking.k8s.io/v1", "Ingress", "ingresses", True, {
        "spec": {"defaultBackend": {"service": {"name": "demo", "port": {"number": 80}}}}}),
    "networking-ingressclasses": Kind("networking.k8s.io/v1", "IngressClass", "ingressclasses", False,
                                      {"spec": {"controller": "example.com/ingress"}}),
    "networking-networkpolicies": Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True,
                                       {"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
    "storage-storageclasses": Kind("storage.k8s.io/v1", "StorageClass", "storageclasses", False,
                                   {"provisioner": "example.com/fake"}),
    "scheduling-priorityclasses": Kind("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", False,
                                       {"value": 1000, "description": "tests"}),
    "autoscaling-v1-horizontalpodautoscalers": Kind("autoscaling/v1", "HorizontalPodAutoscaler",
                                                    "horizontalpodautoscalers", True, {"spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo"},
        "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}}),
    "autoscaling-v2-horizontalpodautoscalers": Kind("autoscaling/v2", "HorizontalPodAutoscaler",
                                                    "horizontalpodautoscalers", True, {"spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo"},
        "minReplicas": 1, "maxReplicas": 3, "metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}),
    "certificates-certificatesigningrequests": Kind(
        "certificates.k8s.io/v1", "CertificateSigningRequest", "certificatesigningrequests", False, {"spec": {
            "request": _csr_pem(), "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"]}}),
    # No rules: the webhooks match no request, so admission never calls them.
    "admissionregistration-mutatingwebhookconfigurations": Kind(
        "admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False,
        {"webhooks": [{"name": "mutate.example.com", "clientConfig": {"url": "https://127.0.0.1:1/mutate"},
                       "admissionReviewVersions": ["v1"], "sideEffects": "None"}]}),
    "admissionregistration-validatingwebhookconfigurations": Kind(
        "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
        False, {"webhooks": [{"name": "validate.example.com", "clientConfig": {"url": "https://127.0.0.1:1/v"},
                              "admissionReviewVersions": ["v1"], "sideEffects": "None"}]}),
}


def unique(prefix: str = "obj") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def expect(response: tuple[int, Any, dict[str, str]], status: int) -> Any:
    code, body, _ = response
    assert code == status, f"expected {status}, got {code}: {str(body)[:600]}"
    return body


def create(apiserver: Any, kind: Kind, namespace: str, name: str, obj: JSON | None = None) -> JSON:
    body: JSON = expect(apiserver.request("POST", kind.collection(namespace), obj or kind.manifest(name)), 201)
    return body


def watch_events(apiserver: Any, kind: Kind, namespace: str, name: str, resource_version: str) -> list[JSON]:
    """Events for one object since ``resource_version``; the stream ends after a second."""
    query = f"?watch=true&resourceVersion={resource_version}&timeoutSeconds=1&fieldSelector=metadata.name%3D{name}"
    text = expect(apiserver.request("GET", kind.collection(namespace) + query), 200)
    if isinstance(text, dict):  # a single event decodes as one JSON document
        return [text]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def finish_namespace_deletion(apiserver: Any, name: str, terminating: JSON) -> None:
    """No namespace controller runs here: clear the ``kubernetes`` finalizer as it would."""
    assert terminating["status"]["phase"] == "Terminating"
    assert terminating["metadata"]["deletionTimestamp"]
    still_there = expect(apiserver.request("GET", f"/api/v1/namespaces/{name}"), 200)
    still_there["spec"]["finalizers"] = []
    expect(apiserver.request("PUT", f"/api/v1/namespaces/{name}/finalize", still_there), 200)


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_crud_life_cycle(apiserver: Any, namespace: str, kind: Kind) -> None:
    name = unique(kind.resource[:10])
    created = create(apiserver, kind, namespace, name)
    meta = created["metadata"]
    assert created["kind"] == kind.kind and created["apiVersion"] == kind.api_version
    assert meta["name"] == name and meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"]
    assert ("namespace" in meta) == kind.namespaced
    if kind.namespaced:
        assert meta["namespace"] == namespace

    fetched = expect(apiserver.request("GET", kind.item(namespace, name)), 200)
    assert fetched == created

    listed = expect(apiserver.request("GET", kind.collection(namespace)), 200)
    assert listed["kind"] == f"{kind.kind}List" and listed["apiVersion"] == kind.api_version
    assert listed["metadata"]["resourceVersion"]
    matching = [item for item in listed["items"] if item["metadata"]["name"] == name]
    assert len(matching) == 1 and matching[0]["metadata"]["uid"] == meta["uid"]

    changed = copy.deepcopy(fetched)
    changed["metadata"].setdefault("labels", {})["tier"] = "gold"
    updated = expect(apiserver.request("PUT", kind.item(namespace, name), changed), 200)
    assert updated["metadata"]["labels"]["tier"] == "gold"
    assert updated["metadata"]["resourceVersion"] != meta["resourceVersion"]
    assert updated["metadata"]["uid"] == meta["uid"]

    stale = copy.deepcopy(fetched)
    stale["metadata"].setdefault("labels", {})["tier"] = "silver"
    conflict = expect(apiserver.request("PUT", kind.item(namespace, name), stale), 409)
    assert conflict["kind"] == "Status" and conflict["reason"] == "Conflict" and conflict["code"] == 409
    assert conflict["message"] == (f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has '
                                   f"been modified; please apply your changes to the latest version and try again")

    patched = expect(apiserver.request("PATCH", kind.item(namespace, name),
                                       {"metadata": {"annotations": {"note": "hi"}}}, MERGE), 200)
    assert patched["metadata"]["annotations"]["note"] == "hi"
    assert patched["metadata"]["labels"]["tier"] == "gold"

    # Background, as kubectl sends: Jobs and ReplicationControllers would otherwise default to Orphan
    # and wait for the garbage collector.
    deleted = expect(apiserver.request("DELETE", kind.item(namespace, name), {"propagationPolicy": "Background"}), 200)
    if kind.resource == "namespaces":
        finish_namespace_deletion(apiserver, name, deleted)

    missing = expect(apiserver.request("GET", kind.item(namespace, name)), 404)
    assert missing["reason"] == "NotFound" and missing["code"] == 404
    assert missing["message"] == f'{kind.qualified} "{name}" not found'
    assert missing["details"]["name"] == name and missing["details"]["kind"] == kind.resource

    events = watch_events(apiserver, kind, namespace, name, meta["resourceVersion"])
    types = [event["type"] for event in events]
    assert types[0] == "MODIFIED" and types[-1] == "DELETED", types
    assert events[0]["object"]["metadata"]["labels"]["tier"] == "gold"
    assert events[-1]["object"]["kind"] == kind.kind


@pytest.mark.parametrize("kind", [k for k in KINDS.values() if not k.namespaced],
                         ids=[i for i, k in KINDS.items() if not k.namespaced])
def test_cluster_scoped_resources_are_not_served_under_a_namespace(apiserver: Any, namespace: str,
                                                                   kind: Kind) -> None:
    name = unique()
    scoped = f"{kind.root()}/namespaces/{namespace}/{kind.resource}"
    expect(apiserver.request("GET", scoped), 404)
    expect(apiserver.request("POST", scoped, kind.manifest(name)), 404)
    expect(apiserver.request("GET", kind.item("", name)), 404)


# -- status subresource ------------------------------------------------------------------------------

@dataclass(frozen=True)
class StatusCase:
    kind: Kind
    spec_change: JSON  # a merge patch changing the spec
    status: JSON  # a status the /status endpoint should store
    status_patch: JSON  # a later merge patch of that status


STATUS_CASES: dict[str, StatusCase] = {
    "deployments": StatusCase(KINDS["apps-deployments"], {"spec": {"replicas": 4}},
                              {"replicas": 1, "observedGeneration": 1, "updatedReplicas": 1}, {"readyReplicas": 1}),
    "pods": StatusCase(KINDS["core-pods"], {"spec": {"activeDeadlineSeconds": 60}},
                       {"phase": "Running", "podIP": "10.1.2.3", "podIPs": [{"ip": "10.1.2.3"}]},
                       {"phase": "Succeeded"}),
    "services": StatusCase(KINDS["core-services"], {"spec": {"sessionAffinity": "ClientIP"}},
                           {"loadBalancer": {"ingress": [{"ip": "198.18.0.10"}]}},
                           {"loadBalancer": {"ingress": [{"ip": "198.18.0.11"}]}}),
    "nodes": StatusCase(KINDS["core-nodes"], {"spec": {"unschedulable": True}},
                        {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                         "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                         "message": "ready", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                                         "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
                        {"capacity": {"cpu": "4", "memory": "4Gi", "pods": "110"}}),
    "jobs": StatusCase(KINDS["batch-jobs"], {"spec": {"activeDeadlineSeconds": 600}},
                       {"active": 1, "startTime": "2026-01-01T00:00:00Z"}, {"ready": 1}),
    "replicasets": StatusCase(KINDS["apps-replicasets"], {"spec": {"replicas": 3}},
                              {"replicas": 1, "observedGeneration": 1}, {"readyReplicas": 1}),
    "statefulsets": StatusCase(KINDS["apps-statefulsets"], {"spec": {"replicas": 3}},
                               {"replicas": 1, "observedGeneration": 1, "currentRevision": "demo-1"},
                               {"readyReplicas": 1}),
    "daemonsets": StatusCase(KINDS["apps-daemonsets"], {"spec": {"minReadySeconds": 5}},
                             {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0,
                              "numberReady": 1}, {"numberReady": 2}),
    "replicationcontrollers": StatusCase(KINDS["core-replicationcontrollers"], {"spec": {"replicas": 3}},
                                         {"replicas": 1, "observedGeneration": 1}, {"readyReplicas": 1}),
    "cronjobs": StatusCase(KINDS["batch-cronjobs"], {"spec": {"suspend": True}},
                           {"lastScheduleTime": "2026-01-01T00:00:00Z"}, {"lastSuccessfulTime": "2026-01-01T00:05:00Z"}),
    "poddisruptionbudgets": StatusCase(KINDS["policy-poddisruptionbudgets"], {"spec": {"minAvailable": 2}},
                                       {"currentHealthy": 1, "desiredHealthy": 1, "disruptionsAllowed": 0,
                                        "expectedPods": 1, "observedGeneration": 1}, {"currentHealthy": 2}),
    "persistentvolumeclaims": StatusCase(KINDS["core-persistentvolumeclaims"],
                                         {"spec": {"volumeName": "pv-demo"}}, {"phase": "Bound"}, {"phase": "Lost"}),
    "horizontalpodautoscalers": StatusCase(KINDS["autoscaling-v2-horizontalpodautoscalers"],
                                           {"spec": {"maxReplicas": 5}}, {"currentReplicas": 1, "desiredReplicas": 1},
                                           {"desiredReplicas": 2}),
}


def _subset_of(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(_subset_of(v, actual.get(k)) for k, v in expected.items())
    return bool(expected == actual)


@pytest.mark.parametrize("case", list(STATUS_CASES.values()), ids=list(STATUS_CASES))
def test_status_subresource_writes_only_status(apiserver: Any, namespace: str, case: StatusCase) -> None:
    kind = case.kind
    name = unique()
    created = create(apiserver, kind, namespace, name)
    path = kind.item(namespace, name)

    # PUT /status: the status is stored, a spec change smuggled along is dropped.
    body = copy.deepcopy(created)
    body["status"] = case.status
    for key, value in case.spec_change["spec"].items():
        body["spec"][key] = value
    after_status = expect(apiserver.request("PUT", path + "/status", body), 200)
    assert _subset_of(case.status, after_status["status"]), after_status["status"]
    assert after_status["spec"] == created["spec"]
    assert after_status["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    assert expect(apiserver.request("GET", path + "/status"), 200) == after_status

    # The main endpoint changes the spec and ignores a status change.
    body = copy.deepcopy(after_status)
    body["status"] = {}
    for key, value in case.spec_change["spec"].items():
        body["spec"][key] = value
    after_main = expect(apiserver.request("PUT", path, body), 200)
    assert after_main["status"] == after_status["status"]
    assert _subset_of(case.spec_change["spec"], after_main["spec"])

    # PATCH /status behaves as PUT /status: removing the spec change is ignored.
    spec_undo = {"spec": {key: None for key in case.spec_change["spec"]}}
    patched = expect(apiserver.request("PATCH", path + "/status", {**spec_undo, "status": case.status_patch},
                                       MERGE), 200)
    assert _subset_of(case.status_patch, patched["status"]), patched["status"]
    assert patched["spec"] == after_main["spec"]


def test_generation_bumps_on_spec_changes_only(apiserver: Any, namespace: str) -> None:
    kind = KINDS["apps-deployments"]
    name = unique()
    path = kind.item(namespace, name)
    assert create(apiserver, kind, namespace, name)["metadata"]["generation"] == 1
    labelled = expect(apiserver.request("PATCH", path, {"metadata": {"labels": {"a": "b"}}}, MERGE), 200)
    assert labelled["metadata"]["generation"] == 1
    # Upstream's deployment status strategy also keeps the labels (its reset fields).
    status = expect(apiserver.request("PATCH", path + "/status",
                                      {"metadata": {"labels": {"a": "changed"}}, "status": {"replicas": 1}}, MERGE),
                    200)
    assert status["metadata"]["generation"] == 1 and status["status"]["replicas"] == 1
    assert status["metadata"]["labels"] == {"a": "b"}
    scaled = expect(apiserver.request("PATCH", path, {"spec": {"replicas": 3}}, MERGE), 200)
    assert scaled["metadata"]["generation"] == 2
    body = copy.deepcopy(scaled)
    body["metadata"]["generation"] = 40  # the server owns generation
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.36"
    replaced = expect(apiserver.request("PUT", path, body), 200)
    assert replaced["metadata"]["generation"] == 3
    same = expect(apiserver.request("PUT", path, replaced), 200)
    assert same["metadata"]["generation"] == 3


# -- scale subresource -------------------------------------------------------------------------------

SCALABLE = ["apps-deployments", "apps-replicasets", "apps-statefulsets", "core-replicationcontrollers"]


@pytest.mark.parametrize("kind_id", SCALABLE)
def test_scale_subresource(apiserver: Any, namespace: str, kind_id: str) -> None:
    kind = KINDS[kind_id]
    name = unique()
    created = create(apiserver, kind, namespace, name)
    path = kind.item(namespace, name) + "/scale"

    scale = expect(apiserver.request("GET", path), 200)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["metadata"]["name"] == name and scale["metadata"]["namespace"] == namespace
    assert scale["metadata"]["uid"] == created["metadata"]["uid"]
    assert scale["spec"] == {"replicas": 1}
    assert scale["status"]["selector"] == "app=demo"

    scale["spec"]["replicas"] = 3
    put = expect(apiserver.request("PUT", path, scale), 200)
    assert put["spec"]["replicas"] == 3
    assert expect(apiserver.request("GET", kind.item(namespace, name)), 200)["spec"]["replicas"] == 3

    stale = expect(apiserver.request("PUT", path, scale), 409)
    assert stale["reason"] == "Conflict"

    patched = expect(apiserver.request("PATCH", path, {"spec": {"replicas": 5}}, MERGE), 200)
    assert patched["spec"]["replicas"] == 5
    json_patched = expect(apiserver.request("PATCH", path, [{"op": "replace", "path": "/spec/replicas", "value": 2}],
                                            "application/json-patch+json"), 200)
    assert json_patched["spec"]["replicas"] == 2
    obj = expect(apiserver.request("GET", kind.item(namespace, name)), 200)
    assert obj["spec"]["replicas"] == 2
    assert obj["metadata"]["resourceVersion"] == json_patched["metadata"]["resourceVersion"]

    negative = expect(apiserver.request("PATCH", path, {"spec": {"replicas": -1}}, MERGE), 422)
    assert negative["reason"] == "Invalid"


def test_scale_of_a_missing_object_is_not_found(apiserver: Any, namespace: str) -> None:
    kind = KINDS["apps-deployments"]
    missing = expect(apiserver.request("GET", kind.item(namespace, "nothing-here") + "/scale"), 404)
    assert missing["message"] == 'deployments.apps "nothing-here" not found'
