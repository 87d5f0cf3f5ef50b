"""Workload and other kinds' defaults (apps, batch, core, networking, ...)."""

from __future__ import annotations

from typing import Any

from kubeplane.machinery import defaults


def _template() -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}


def _apply(group: str, version: str, kind: str, obj: dict[str, Any], minor: str = "1.35") -> dict[str, Any]:
    defaults.apply(group, version, kind, obj, minor)
    return obj


def test_deployment() -> None:
    spec = _apply("apps", "v1", "Deployment", {"spec": {"template": _template()}})["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_deployment_recreate_gets_no_rolling_update() -> None:
    spec = _apply("apps", "v1", "Deployment", {"spec": {"strategy": {"type": "Recreate"}}})["spec"]
    assert spec["strategy"] == {"type": "Recreate"}


def test_template_does_not_get_pod_only_defaults() -> None:
    template = _template()
    template["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    spec = _apply("apps", "v1", "ReplicaSet", {"spec": {"template": template}})["spec"]
    assert spec["replicas"] == 1
    assert "requests" not in spec["template"]["spec"]["containers"][0]["resources"]


def test_stateful_set() -> None:
    spec = _apply("apps", "v1", "StatefulSet", {"spec": {"template": _template(), "volumeClaimTemplates": [
        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}})["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["replicas"] == 1
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}


def test_daemon_set() -> None:
    spec = _apply("apps", "v1", "DaemonSet", {"spec": {"template": _template()}})["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert spec["revisionHistoryLimit"] == 10


def test_job() -> None:
    job = _apply("batch", "v1", "Job", {"metadata": {"name": "j"}, "spec": {"template": _template()}})
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert job["metadata"]["labels"] == {"app": "x"}


def test_job_parallelism_only_leaves_completions_unset() -> None:
    spec = _apply("batch", "v1", "Job", {"spec": {"parallelism": 3, "template": _template()}})["spec"]
    assert "completions" not in spec
    assert spec["parallelism"] == 3


def test_job_with_failure_policy_replaces_failed_pods_only() -> None:
    spec = _apply("batch", "v1", "Job", {"spec": {"template": _template(), "podFailurePolicy": {
        "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}})["spec"]
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"


def test_cron_job() -> None:
    spec = _apply("batch", "v1", "CronJob", {"spec": {"schedule": "* * * * *", "jobTemplate": {
        "spec": {"template": _template()}}}})["spec"]
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]


def test_service_cluster_ip() -> None:
    spec = _apply("", "v1", "Service", {"spec": {"ports": [{"port": 80}, {"port": 81, "targetPort": "http"}]}})["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert spec["ports"][1]["targetPort"] == "http"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["ipFamilies"] == ["IPv4"]
    assert "externalTrafficPolicy" not in spec
    assert "clusterIP" not in spec


def test_service_load_balancer_and_external_name() -> None:
    lb = _apply("", "v1", "Service", {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})["spec"]
    assert lb["externalTrafficPolicy"] == "Cluster"
    assert lb["allocateLoadBalancerNodePorts"] is True
    ext = _apply("", "v1", "Service", {"spec": {"type": "ExternalName", "externalName": "a.b"}})["spec"]
    assert "internalTrafficPolicy" not in ext
    assert "ipFamilies" not in ext


def test_service_client_ip_affinity_timeout() -> None:
    spec = _apply("", "v1", "Service", {"spec": {"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}})["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_core_misc() -> None:
    assert _apply("", "v1", "Secret", {})["type"] == "Opaque"
    ns = _apply("", "v1", "Namespace", {"metadata": {"name": "team"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["status"] == {"phase": "Active"}
    assert "spec" not in ns  # spec.finalizers is the registry's job
    pvc = _apply("", "v1", "PersistentVolumeClaim", {"spec": {}})
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    pv = _apply("", "v1", "PersistentVolume", {"spec": {}})
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["volumeMode"] == "Filesystem"


def test_replication_controller_takes_selector_and_labels_from_template() -> None:
    rc = _apply("", "v1", "ReplicationController", {"metadata": {"name": "r"}, "spec": {"template": _template()}})
    assert rc["spec"]["selector"] == {"app": "x"}
    assert rc["metadata"]["labels"] == {"app": "x"}
    assert rc["spec"]["replicas"] == 1


def test_other_groups() -> None:
    hpa = _apply("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3}})["spec"]
    assert hpa["minReplicas"] == 1
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    assert "behavior" not in hpa
    np = _apply("networking.k8s.io", "v1", "NetworkPolicy", {"spec": {"egress": [{"ports": [{"port": 53}]}]}})["spec"]
    assert np["policyTypes"] == ["Ingress", "Egress"]
    assert np["egress"][0]["ports"][0]["protocol"] == "TCP"
    slice_ = _apply("discovery.k8s.io", "v1", "EndpointSlice", {"ports": [{"port": 80}]})
    assert slice_["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert _apply("scheduling.k8s.io", "v1", "PriorityClass", {"value": 1})["preemptionPolicy"] == "PreemptLowerPriority"
    sc = _apply("storage.k8s.io", "v1", "StorageClass", {"provisioner": "x"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    rb = _apply("rbac.authorization.k8s.io", "v1", "RoleBinding", {
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s", "namespace": "d"}]})
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert rb["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert rb["subjects"][1]["apiGroup"] == ""


def test_kinds_without_defaults_are_untouched() -> None:
    for group, kind in (("", "ConfigMap"), ("coordination.k8s.io", "Lease"), ("policy", "PodDisruptionBudget")):
        obj: dict[str, Any] = {"metadata": {"name": "x"}}
        _apply(group, "v1", kind, obj)
        assert obj == {"metadata": {"name": "x"}}


def test_pod_template_endpoints_and_node() -> None:
    template = _apply("", "v1", "PodTemplate", {"template": _template()})
    assert template["template"]["spec"]["restartPolicy"] == "Always"
    endpoints = _apply("", "v1", "Endpoints", {"subsets": [{"ports": [{"port": 80}]}]})
    assert endpoints["subsets"][0]["ports"][0]["protocol"] == "TCP"
    node = _apply("", "v1", "Node", {"status": {"capacity": {"cpu": "2"}}})
    assert node["status"]["allocatable"] == {"cpu": "2"}
